"""The registry of runs: which pipeline runs exist, where their logs are and which process runs them.

A row per run in the `runs` table of the state directory's ledger (SQLite,
WAL). `shopfloor run` registers itself with its pid; `shopfloor stop RUN_ID`
finds a live run here; resuming a run re-registers it under the new pid.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from shopfloor.store import connect, transaction

RUNS_DB = "ledger.db"
RUNNING = "running"
#: Status recorded for a run whose process raised instead of returning a result.
ERROR = "error"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id     TEXT PRIMARY KEY,
    pipeline   TEXT NOT NULL,
    logs_root  TEXT NOT NULL,
    pid        INTEGER,
    status     TEXT NOT NULL,
    started_at REAL NOT NULL,
    ended_at   REAL
)
"""


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    pipeline: str
    logs_root: str
    pid: int | None
    status: str
    started_at: float
    ended_at: float | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> RunRecord:
        return cls(row["run_id"], row["pipeline"], row["logs_root"], row["pid"], row["status"],
                   row["started_at"], row["ended_at"])


class RunRegistry:
    def __init__(self, conn: sqlite3.Connection | None = None) -> None:
        self.conn = conn or connect(RUNS_DB)
        self.conn.execute(_SCHEMA)

    def register(self, run_id: str, pipeline: str, logs_root: str, pid: int) -> None:
        """Record a run as running under `pid` (again, when it is resumed)."""
        with transaction(self.conn):
            self.conn.execute(
                "INSERT INTO runs (run_id, pipeline, logs_root, pid, status, started_at) "
                "VALUES (?,?,?,?,?,?) "
                "ON CONFLICT(run_id) DO UPDATE SET pid=excluded.pid, status=excluded.status, "
                "logs_root=excluded.logs_root, ended_at=NULL",
                (run_id, pipeline, logs_root, pid, RUNNING, time.time()))

    def finish(self, run_id: str, status: str) -> None:
        with transaction(self.conn):
            self.conn.execute("UPDATE runs SET status=?, ended_at=? WHERE run_id=?",
                              (status, time.time(), run_id))

    def get(self, run_id: str) -> RunRecord | None:
        row = self.conn.execute("SELECT * FROM runs WHERE run_id=?", (run_id,)).fetchone()
        return RunRecord.from_row(row) if row else None

    def list(self, status: str | None = None) -> list[RunRecord]:
        if status is None:
            rows = self.conn.execute("SELECT * FROM runs ORDER BY started_at").fetchall()
        else:
            rows = self.conn.execute("SELECT * FROM runs WHERE status=? ORDER BY started_at",
                                     (status,)).fetchall()
        return [RunRecord.from_row(r) for r in rows]

    def live(self) -> list[RunRecord]:
        """Runs marked running whose process still exists (kill -9 leaves a `running` row behind)."""
        return [r for r in self.list(RUNNING) if r.pid is not None and pid_alive(r.pid)]

    def close(self) -> None:
        self.conn.close()


class _Finished(Protocol):
    @property
    def status(self) -> str: ...


_R = TypeVar("_R", bound=_Finished)


def registered_run(run_id: str, pipeline: str, logs_root: Path, action: Callable[[], _R]) -> _R:
    """Run `action` listed as running under this process, then record its status (ERROR if it raises).

    `shopfloor run`/`resume` and the server's runs share this, so every run is findable by `shopfloor stop`.
    """
    runs = RunRegistry()
    runs.register(run_id, pipeline, str(logs_root.resolve()), os.getpid())
    status = ERROR
    try:
        result = action()
        status = result.status
        return result
    finally:
        runs.finish(run_id, status)
        runs.close()
