"""The checkpoint of attractor-spec 5.3: the run's state after each completed node.

Saved atomically after every node (temp file, fsync, rename), so kill -9 at
any moment leaves the previous or the new checkpoint, both resumable. Beyond
the spec's fields it records the node to run next, the final status of every
node, per-node attempt counts (so deterministic backends behave the same after
a resume) and the fidelity of the last node (for the one-hop degrade of 5.3).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from shopfloor.errors import UserError
from shopfloor.pipeline.run_dir import CHECKPOINT_FILE, write_atomic

#: Run states a checkpoint can record.
RUNNING, SUCCESS, FAIL, STOPPED, RESTARTED = "running", "success", "fail", "stopped", "restarted"
FINISHED_STATES = frozenset({SUCCESS, FAIL})


@dataclass
class Checkpoint:
    run_id: str = ""
    timestamp: float = 0.0
    current_node: str = ""
    completed_nodes: list[str] = field(default_factory=list)
    node_retries: dict[str, int] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)
    logs: list[str] = field(default_factory=list)
    #: Node the run continues with; empty once the run has ended.
    next_node: str = ""
    #: Incoming edge of `next_node` ("from->to"), for fidelity and thread resolution on resume.
    next_edge: str = ""
    node_outcomes: dict[str, str] = field(default_factory=dict)
    #: Executions per node so far (retries and later visits included).
    node_attempts: dict[str, int] = field(default_factory=dict)
    last_fidelity: str = ""
    status: str = RUNNING
    failure_reason: str = ""
    #: Set when status is "restarted": the run directory the run continues in.
    restarted_into: str = ""
    restart_count: int = 0

    def save(self, logs_root: Path, *, durable: bool = True,
             encoder: CheckpointEncoder | None = None) -> None:
        """Write atomically; pass the run's `encoder` to re-encode only what grew since its last save."""
        self.timestamp = time.time()
        payload = (encoder or CheckpointEncoder()).encode(self)
        write_atomic(Path(logs_root) / CHECKPOINT_FILE, payload, durable=durable)

    @classmethod
    def load(cls, logs_root: Path | str) -> Checkpoint:
        path = Path(logs_root) / CHECKPOINT_FILE
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise UserError("no checkpoint to resume from", where=str(path),
                            fix="pass the --logs-root of a run started with `shopfloor run`") from None
        except json.JSONDecodeError as exc:
            raise UserError(f"checkpoint is not valid JSON ({exc.msg} at line {exc.lineno})", where=str(path),
                            fix="restore it from a backup or start the run again") from None
        if not isinstance(data, dict):
            raise UserError("checkpoint is not a JSON object", where=str(path),
                            fix="restore it from a backup or start the run again")
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)

    @classmethod
    def exists(cls, logs_root: Path | str) -> bool:
        return (Path(logs_root) / CHECKPOINT_FILE).exists()


#: Item types whose equality implies an identical JSON encoding (unlike 1 == 1.0 == True, or nested values).
_PLAIN_TYPES = frozenset({str, int})
#: The fields that grow by an entry per node, encoded incrementally.
_GROWING_FIELDS = ("completed_nodes", "node_outcomes", "node_attempts")
#: One shared encoder: json.dumps() with options builds a new JSONEncoder on every call.
_compact = json.JSONEncoder(separators=(",", ":"), default=str).encode


class _GrowingField:
    """The JSON of one list or dict that grows at its end between saves; only the new tail is encoded.

    The cached prefix is checked against the current items with C-speed list comparisons (keys, values
    and exact types), far cheaper than encoding them again, so a value changed or removed anywhere,
    or an item of a type whose equality does not imply the same JSON, falls back to a full encode.
    """

    def __init__(self) -> None:
        self._keys: list[Any] = []
        self._values: list[Any] = []
        self._types: list[type] = []
        self._inner = ""  # the cached items' JSON without the brackets

    def encode(self, value: list[Any] | dict[str, Any]) -> str:
        is_dict = isinstance(value, dict)
        keys = list(value) if is_dict else []
        values = list(value.values()) if is_dict else list(value)
        types = list(map(type, values))
        done = len(self._values)
        if (len(values) >= done and keys[:done] == self._keys and types[:done] == self._types
                and values[:done] == self._values and _PLAIN_TYPES.issuperset(types[done:])):
            if len(values) > done:
                tail = _compact(dict(zip(keys[done:], values[done:], strict=True)) if is_dict
                                else values[done:])[1:-1]
                self._inner = f"{self._inner},{tail}" if done else tail
            self._keys, self._values, self._types = keys, values, types
            inner = self._inner
        else:
            inner = _compact(value)[1:-1]
            cacheable = _PLAIN_TYPES.issuperset(types)
            self._keys, self._values, self._types = (keys, values, types) if cacheable else ([], [], [])
            self._inner = inner if cacheable else ""
        return f"{{{inner}}}" if is_dict else f"[{inner}]"


class CheckpointEncoder:
    """Encodes the successive checkpoints of one run as compact JSON.

    The node lists and maps grow by one entry per node, so re-encoding them
    whole made each save cost O(nodes so far); they are encoded incrementally.
    The output is byte-for-byte `json.dumps(fields, separators=(",", ":"))`.
    """

    def __init__(self) -> None:
        self._growing = {name: _GrowingField() for name in _GROWING_FIELDS}

    def encode(self, checkpoint: Checkpoint) -> bytes:
        parts = []
        for names in _SEGMENTS:
            if names[0] in self._growing:
                name = names[0]
                parts.append(f"{json.dumps(name)}:{self._growing[name].encode(getattr(checkpoint, name))}")
            else:  # a run of plain fields: one encoder call for all of them
                parts.append(_compact({name: getattr(checkpoint, name) for name in names})[1:-1])
        return ("{" + ",".join(parts) + "}\n").encode()


def _field_segments() -> tuple[tuple[str, ...], ...]:
    """The checkpoint's fields in order: each growing one alone, the plain ones between them grouped."""
    segments: list[tuple[str, ...]] = []
    for f in fields(Checkpoint):
        if f.name in _GROWING_FIELDS or not segments or segments[-1][0] in _GROWING_FIELDS:
            segments.append((f.name,))
        else:
            segments[-1] += (f.name,)
    return tuple(segments)


_SEGMENTS = _field_segments()
