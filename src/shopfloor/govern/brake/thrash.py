"""Thrash: the agent undoes its own work.

A file whose content returns to an earlier version (not the one just before)
again and again, or edits that exactly reverse an earlier edit. Content hashes
come from the brake's `file_state` observations when the live run recorded
them, else from write_file contents and edit_file replacements applied to the
last content seen; both give the same sha256, so an event seen twice counts once.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict

from shopfloor.govern.brake.config import ThrashConfig
from shopfloor.govern.brake.steps import FileState, Step, ToolStep
from shopfloor.govern.globs import normalize


def content_hash(content: str) -> str:
    return hashlib.sha256(content.encode(errors="replace")).hexdigest()


class ThrashDetector:
    name = "thrash"
    advice = "You are reverting your own changes; decide on one approach and build on it."

    def __init__(self, config: ThrashConfig) -> None:
        self.config = config
        self._hashes: dict[str, list[str]] = defaultdict(list)
        self._content: dict[str, str] = {}
        self._edits: dict[str, list[tuple[str, str]]] = defaultdict(list)
        self._revisits: dict[str, int] = defaultdict(int)
        self._undos: dict[str, int] = defaultdict(int)

    def _record(self, path: str, digest: str | None) -> str | None:
        if digest is None:
            return None
        seen = self._hashes[path]
        if seen and seen[-1] == digest:
            return None  # the same state observed twice (tool content and file_state)
        if digest in seen[:-1]:
            self._revisits[path] += 1
            if self._revisits[path] >= self.config.revisits:
                seen.append(digest)
                return f"{path} returned to an earlier version {self._revisits[path]} times"
        seen.append(digest)
        return None

    def observe(self, step: Step) -> str | None:
        if isinstance(step, FileState):
            return self._record(normalize(step.path), step.sha256)
        if not isinstance(step, ToolStep) or step.is_error:
            return None
        reason = None
        for edit in step.edits:
            path = normalize(edit.path)
            if edit.content is not None:
                self._content[path] = edit.content
                reason = self._record(path, content_hash(edit.content)) or reason
            elif edit.old is not None and edit.new is not None:
                if (edit.new, edit.old) in self._edits[path]:
                    self._undos[path] += 1
                    if self._undos[path] >= self.config.undos:
                        reason = f"edits to {path} undid earlier edits {self._undos[path]} times"
                self._edits[path].append((edit.old, edit.new))
                if path in self._content and edit.old in self._content[path]:
                    self._content[path] = self._content[path].replace(edit.old, edit.new, 1)
                    reason = self._record(path, content_hash(self._content[path])) or reason
        return reason
