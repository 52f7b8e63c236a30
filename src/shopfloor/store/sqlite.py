"""SQLite in WAL mode: the transactional store behind runs, approvals and releases.

Each package owns its own tables and creates them with `CREATE TABLE IF NOT
EXISTS` on connect; this module only knows where the database lives and how to
open it so that writes survive kill -9.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

STATE_DIR_ENV = "SHOPFLOOR_HOME"
DEFAULT_STATE_DIR = ".shopfloor"
#: How long a writer waits for another process's lock before failing.
DEFAULT_BUSY_TIMEOUT_S = 30.0


def state_dir() -> Path:
    """The directory for ledgers and stored artifacts: $SHOPFLOOR_HOME, else ./.shopfloor."""
    path = Path(os.environ.get(STATE_DIR_ENV) or DEFAULT_STATE_DIR).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def connect(name: str = "ledger.db", *, directory: Path | None = None,
            busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S) -> sqlite3.Connection:
    """Open (creating if needed) a WAL-mode database under the state directory."""
    path = (directory or state_dir()) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE … COMMIT: takes the write lock up front so check-then-write is atomic."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
