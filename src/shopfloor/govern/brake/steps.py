"""From a raw event stream to the steps the detectors reason about.

Detectors never see provider-specific shapes: the tracker pairs each
`tool_call_start` with its `tool_call_end` into a `ToolStep` (name, arguments,
full output, error flag), turns an assistant message into a `TextStep`, and
passes the brake's own `file_state` observations (the content hash of a file
after a tool wrote it) through as `FileState`. It accepts the session's events
as `SessionEvent.to_dict()` writes them and as a run's events.jsonl records them
(kind optionally prefixed, e.g. `agent.tool_call_end`, data optionally nested
under `data`).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from shopfloor.govern.brake.evidence import FileEdit, file_edits

#: Parts of a tool's output that change on every run of the same call (timings, timestamps,
#: addresses); masked before outputs are compared, so "the same result" means the same content.
_VOLATILE = re.compile(r"\b\d+(?:\.\d+)?\s?(?:ms|us|µs|s|sec|secs|seconds)\b"
                       r"|\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?"
                       r"|\b0x[0-9a-fA-F]{6,}\b")


def stable_output(output: str) -> str:
    return _VOLATILE.sub("#", output)


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode(errors="replace")).hexdigest()[:16]


@dataclass(frozen=True)
class ToolStep:
    index: int
    call_id: str
    name: str
    arguments: dict[str, Any]
    output: str
    is_error: bool
    node_id: str = ""

    # Cached: several detectors compare the same step many times over their windows.
    @cached_property
    def signature(self) -> str:
        return f"{self.name}:{_hash(json.dumps(self.arguments, sort_keys=True, default=str))}"

    @cached_property
    def edits(self) -> list[FileEdit]:
        return file_edits(self.name, self.arguments)

    @cached_property
    def result_hash(self) -> str:
        return _hash(f"{self.is_error}:{stable_output(self.output)}")


@dataclass(frozen=True)
class TextStep:
    index: int
    text: str
    node_id: str = ""


@dataclass(frozen=True)
class FileState:
    """The brake's own observation: `path` (workspace-relative) now has content hash `sha256`."""

    index: int
    path: str
    sha256: str | None  # None: the file no longer exists
    existed_before: bool = False
    node_id: str = ""


@dataclass(frozen=True)
class ToolIntent:
    """A tool call about to run (from the pre-tool hook, or a `tool_call_start` with arguments)."""

    index: int
    call_id: str
    name: str
    arguments: dict[str, Any]
    node_id: str = ""

    @cached_property
    def edits(self) -> list[FileEdit]:
        return file_edits(self.name, self.arguments)


Step = ToolStep | TextStep | FileState | ToolIntent


def normalize(kind: str, data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """`agent.tool_call_end` → `tool_call_end`; a wrapped `{"data": {...}}` payload unwrapped."""
    short = kind.rsplit(".", 1)[-1]
    inner = data.get("data")
    if isinstance(inner, dict) and "session_id" in data:
        merged = dict(inner)
        for key in ("session_id", "node_id"):
            if key in data:
                merged.setdefault(key, data[key])
        data = merged
    return short, data


@dataclass
class StepTracker:
    """Feeds on raw events; returns the steps each one completes (often none).

    Offline, a `tool_call_start` carrying arguments is the call's intent. Live, the
    intent comes from the pre-tool hook instead (`intents_from_starts=False`), which
    runs where a finding can still refuse the call.
    """

    intents_from_starts: bool = True
    _pending: dict[str, ToolIntent] = field(default_factory=dict)

    def feed(self, index: int, kind: str, data: dict[str, Any]) -> list[Step]:
        kind, data = normalize(kind, data)
        node = str(data.get("node_id") or "")
        if kind == "tool_call_start":
            call_id = str(data.get("call_id", ""))
            args = data.get("arguments")
            if isinstance(args, str):
                try:
                    args = json.loads(args)
                except json.JSONDecodeError:
                    args = {"raw": args}
            known = self._pending.get(call_id)
            intent = ToolIntent(index, call_id, str(data.get("tool_name", "")),
                                args if isinstance(args, dict) else (known.arguments if known else {}), node)
            self._pending[call_id] = intent
            fresh = isinstance(args, dict) and known is None and self.intents_from_starts
            return [intent] if fresh else []
        if kind == "tool_call_end":
            intent = self._pending.pop(str(data.get("call_id", "")), None)
            error = data.get("error")
            output = str(error if error else data.get("output", ""))
            name = intent.name if intent else str(data.get("tool_name", ""))
            args = intent.arguments if intent else {}
            return [ToolStep(index, str(data.get("call_id", "")), name, args, output, bool(error), node)]
        if kind == "assistant_text_end":
            return [TextStep(index, str(data.get("text", "")), node)]
        if kind == "file_state":
            return [FileState(index, str(data.get("path", "")), data.get("sha256"),
                              bool(data.get("existed_before", False)), node)]
        if kind == "tool_intent":
            intent = ToolIntent(index, str(data.get("call_id", "")), str(data.get("tool_name", "")),
                                dict(data.get("arguments") or {}), node)
            self._pending[intent.call_id] = intent
            return [intent]
        return []
