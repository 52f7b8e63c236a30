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
from shopfloor.pipeline.run_dir import CHECKPOINT_FILE, write_json_atomic

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
    node_attempts: dict[str, int] = field(default_factory=dict)
    last_fidelity: str = ""
    status: str = RUNNING
    failure_reason: str = ""
    #: Set when status is "restarted": the run directory the run continues in.
    restarted_into: str = ""
    restart_count: int = 0

    def save(self, logs_root: Path, *, durable: bool = True) -> None:
        self.timestamp = time.time()
        # A shallow field dict: asdict() would deep-copy every value only for json to read it once.
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        write_json_atomic(Path(logs_root) / CHECKPOINT_FILE, data, durable=durable, compact=True)

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
