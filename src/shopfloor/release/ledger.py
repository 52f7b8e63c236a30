"""The release ledger: releases, approvals, deployments and idempotency keys in SQLite.

Every write is one `BEGIN IMMEDIATE` transaction (`shopfloor.store.transaction`),
so a kill -9 leaves either the old row or the new one, never half of each. A
deployment's state changes only through `transition`, which appends to
`deployment_transitions` in the same transaction: the history is the audit
trail and the crash-injection hook counts those commits.

Who is driving a deployment is recorded as an owner token (pid + the process's
start time, so a recycled pid is not mistaken for the original owner). A
deployment whose owner is gone was interrupted and is resumed by the next
release command.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shopfloor.store import connect, transaction

LEDGER_DB = "ledger.db"
#: Test hook: SIGKILL this process right after its Nth committed state transition (1-based).
CRASH_AT_ENV = "SHOPFLOOR_RELEASE_CRASH_AT_TRANSITION"

SCHEMA = """
CREATE TABLE IF NOT EXISTS release_artifacts (
    digest TEXT PRIMARY KEY, created_at REAL NOT NULL, manifest TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS release_context_snapshots (
    key TEXT PRIMARY KEY, captured_at REAL NOT NULL, snapshot TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS release_approval_requests (
    run_id TEXT NOT NULL, gate TEXT NOT NULL, digest TEXT NOT NULL, diff_hash TEXT NOT NULL,
    critical TEXT NOT NULL, requested_at REAL NOT NULL, PRIMARY KEY (run_id, gate));
CREATE TABLE IF NOT EXISTS release_approvals (
    id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, gate TEXT NOT NULL,
    digest TEXT NOT NULL, diff_hash TEXT NOT NULL, decision TEXT NOT NULL, approver TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '', decided_at REAL NOT NULL, expires_at REAL NOT NULL, mac TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS release_approvals_by_gate ON release_approvals (run_id, gate);
CREATE TABLE IF NOT EXISTS release_deployments (
    id TEXT PRIMARY KEY, target TEXT NOT NULL, digest TEXT NOT NULL, kind TEXT NOT NULL,
    state TEXT NOT NULL, step INTEGER NOT NULL DEFAULT 0, owner TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL, updated_at REAL NOT NULL, finished_at REAL,
    result TEXT NOT NULL DEFAULT '{}', error TEXT NOT NULL DEFAULT '', env TEXT, fault TEXT);
CREATE INDEX IF NOT EXISTS release_deployments_by_target ON release_deployments (target, created_at);
CREATE TABLE IF NOT EXISTS release_deployment_transitions (
    deployment_id TEXT NOT NULL REFERENCES release_deployments(id), seq INTEGER NOT NULL,
    from_state TEXT NOT NULL, to_state TEXT NOT NULL, step INTEGER NOT NULL, at REAL NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}', PRIMARY KEY (deployment_id, seq));
CREATE TABLE IF NOT EXISTS release_idempotency_keys (
    key TEXT PRIMARY KEY, payload_hash TEXT NOT NULL, payload TEXT NOT NULL,
    deployment_id TEXT NOT NULL REFERENCES release_deployments(id), created_at REAL NOT NULL);
"""

#: Columns added after the first release of the schema: a ledger written before gets them on open.
#: `env` (the rendered environment) and `fault` (the injected fault) are JSON; NULL means none recorded.
ADDED_COLUMNS = {"release_deployments": (("env", "TEXT"), ("fault", "TEXT"))}

#: States in which nobody needs to drive the deployment any more.
TERMINAL_STATES = frozenset({"succeeded", "rolled_back", "failed"})
#: Waiting for a human: not terminal, but not resumed automatically either.
PAUSED_STATE = "paused"

_transitions_committed = 0


def _process_start_time(pid: int) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[19]  # field 22: starttime, after the comm field


def owner_token() -> str:
    """Identifies this process for as long as it lives (pid reuse gives another token)."""
    pid = os.getpid()
    return f"{pid}:{_process_start_time(pid)}"


def owner_alive(token: str) -> bool:
    if not token:
        return False
    pid_text, _, start = token.partition(":")
    try:
        pid = int(pid_text)
    except ValueError:
        return False
    start_now = _process_start_time(pid)
    return bool(start_now) and start_now == start


def new_deployment_id() -> str:
    return "dep-" + uuid.uuid4().hex[:16]


@dataclass
class Deployment:
    id: str
    target: str
    digest: str
    kind: str
    state: str
    step: int
    owner: str
    created_at: float
    updated_at: float
    finished_at: float | None
    result: dict[str, Any]
    error: str
    #: The environment the service runs with, rendered when the deployment was accepted (None: recorded
    #: before deployments kept their env; the target's env is used as configured).
    env: dict[str, str] | None = None
    #: The fault injected on this deployment's canary, if any.
    fault: dict[str, Any] | None = None

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Deployment:
        return cls(id=row["id"], target=row["target"], digest=row["digest"], kind=row["kind"],
                   state=row["state"], step=row["step"], owner=row["owner"], created_at=row["created_at"],
                   updated_at=row["updated_at"], finished_at=row["finished_at"],
                   result=json.loads(row["result"]), error=row["error"],
                   env=json.loads(row["env"]) if row["env"] is not None else None,
                   fault=json.loads(row["fault"]) if row["fault"] is not None else None)


class Ledger:
    """One connection to the release tables; open one per thread."""

    def __init__(self, conn: sqlite3.Connection | None = None) -> None:
        self.conn = conn or connect(LEDGER_DB)
        self.conn.executescript(SCHEMA)
        self._add_columns()

    def _add_columns(self) -> None:
        """Bring a ledger from an earlier schema up to date (checked without a lock; added under one)."""
        def missing() -> list[tuple[str, str, str]]:
            out = []
            for table, columns in ADDED_COLUMNS.items():
                have = {r[1] for r in self.conn.execute(f"PRAGMA table_info({table})")}
                out += [(table, name, decl) for name, decl in columns if name not in have]
            return out

        if missing():
            with transaction(self.conn):
                for table, name, decl in missing():
                    self.conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {decl}")

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- artifacts and context snapshots ------------------------------------------------
    def record_artifact(self, digest: str, manifest: dict[str, Any]) -> None:
        with transaction(self.conn):
            self.conn.execute(
                "INSERT INTO release_artifacts (digest, created_at, manifest) VALUES (?, ?, ?) "
                "ON CONFLICT(digest) DO UPDATE SET manifest = excluded.manifest",
                (digest, time.time(), json.dumps(manifest, sort_keys=True)))

    def record_snapshot(self, key: str, snapshot: dict[str, Any], *, replace: bool = True) -> None:
        verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
        with transaction(self.conn):
            self.conn.execute(f"{verb} INTO release_context_snapshots (key, captured_at, snapshot) "
                              "VALUES (?, ?, ?)", (key, time.time(), json.dumps(snapshot, sort_keys=True)))

    def snapshot(self, key: str) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT snapshot FROM release_context_snapshots WHERE key = ?",
                                (key,)).fetchone()
        return json.loads(row["snapshot"]) if row else None

    # -- deployments ---------------------------------------------------------------------
    def deployment(self, deployment_id: str) -> Deployment | None:
        row = self.conn.execute("SELECT * FROM release_deployments WHERE id = ?", (deployment_id,)).fetchone()
        return Deployment.from_row(row) if row else None

    def deployments(self, target: str | None = None) -> list[Deployment]:
        if target is None:
            rows = self.conn.execute("SELECT * FROM release_deployments "
                                     "ORDER BY created_at, rowid").fetchall()
        else:
            rows = self.conn.execute("SELECT * FROM release_deployments WHERE target = ? "
                                     "ORDER BY created_at, rowid", (target,)).fetchall()
        return [Deployment.from_row(r) for r in rows]

    def unfinished(self) -> list[Deployment]:
        return [d for d in self.deployments() if not d.terminal]

    def insert_deployment(self, conn: sqlite3.Connection, *, dep_id: str, target: str, digest: str,
                          kind: str, owner: str, env: dict[str, str] | None = None,
                          fault: dict[str, Any] | None = None) -> None:
        """Insert in the caller's transaction (so the idempotency key lands with it).

        The rendered env and the fault are part of what the deployment is: written with it, never later.
        """
        now = time.time()
        conn.execute("INSERT INTO release_deployments (id, target, digest, kind, state, owner, created_at, "
                     "updated_at, env, fault) VALUES (?, ?, ?, ?, 'accepted', ?, ?, ?, ?, ?)",
                     (dep_id, target, digest, kind, owner, now, now,
                      None if env is None else json.dumps(env, sort_keys=True),
                      None if fault is None else json.dumps(fault, sort_keys=True)))
        conn.execute("INSERT INTO release_deployment_transitions (deployment_id, seq, from_state, to_state, "
                     "step, at) VALUES (?, 0, '', 'accepted', 0, ?)", (dep_id, now))

    def claim(self, deployment_id: str, owner: str, *, resume_paused: bool = False) -> Deployment | None:
        """Take over a deployment whose owner died; None if someone alive holds it or it is finished.

        A paused deployment waits for a human, so it is only claimed when `resume_paused` says one
        decided.
        """
        with transaction(self.conn):
            dep = self.deployment(deployment_id)
            if dep is None or dep.terminal or (dep.state == PAUSED_STATE and not resume_paused):
                return None
            if dep.owner != owner and owner_alive(dep.owner):
                return None
            self.conn.execute("UPDATE release_deployments SET owner = ? WHERE id = ?", (owner, deployment_id))
        return self.deployment(deployment_id)

    def transition(self, dep: Deployment, to_state: str, *, step: int | None = None,
                   result: dict[str, Any] | None = None, error: str | None = None,
                   detail: dict[str, Any] | None = None, owner: str | None = None) -> Deployment:
        """Move `dep` to `to_state` iff it is still in the state we last saw (optimistic check)."""
        global _transitions_committed
        now = time.time()
        new_step = dep.step if step is None else step
        with transaction(self.conn):
            row = self.conn.execute("SELECT state, step FROM release_deployments WHERE id = ?",
                                    (dep.id,)).fetchone()
            if row is None or (row["state"], row["step"]) != (dep.state, dep.step):
                raise RuntimeError(f"deployment {dep.id} changed under us "
                                   f"({dep.state}/{dep.step} → {row['state'] if row else 'gone'})")
            seq = self.conn.execute("SELECT COALESCE(MAX(seq), -1) + 1 FROM release_deployment_transitions "
                                    "WHERE deployment_id = ?", (dep.id,)).fetchone()[0]
            self.conn.execute(
                "UPDATE release_deployments SET state = ?, step = ?, updated_at = ?, finished_at = ?, "
                "result = ?, error = ?, owner = ? WHERE id = ?",
                (to_state, new_step, now, now if to_state in TERMINAL_STATES else None,
                 json.dumps(result if result is not None else dep.result, sort_keys=True),
                 dep.error if error is None else error, dep.owner if owner is None else owner, dep.id))
            self.conn.execute("INSERT INTO release_deployment_transitions (deployment_id, seq, from_state, "
                              "to_state, step, at, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
                              (dep.id, seq, dep.state, to_state, new_step, now,
                               json.dumps(detail or {}, sort_keys=True)))
        _transitions_committed += 1
        crash_at = os.environ.get(CRASH_AT_ENV)
        if crash_at and int(crash_at) == _transitions_committed:
            os.kill(os.getpid(), signal.SIGKILL)
        updated = self.deployment(dep.id)
        assert updated is not None
        return updated

    def transitions(self, deployment_id: str) -> list[dict[str, Any]]:
        rows = self.conn.execute("SELECT * FROM release_deployment_transitions WHERE deployment_id = ? "
                                 "ORDER BY seq", (deployment_id,)).fetchall()
        return [{**dict(r), "detail": json.loads(r["detail"])} for r in rows]

    # -- idempotency keys ----------------------------------------------------------------
    def idempotency_key(self, conn: sqlite3.Connection, key: str) -> sqlite3.Row | None:
        return conn.execute("SELECT * FROM release_idempotency_keys WHERE key = ?", (key,)).fetchone()

    def insert_idempotency_key(self, conn: sqlite3.Connection, key: str, payload: dict[str, Any],
                               payload_hash: str, deployment_id: str) -> None:
        conn.execute("INSERT INTO release_idempotency_keys (key, payload_hash, payload, deployment_id, "
                     "created_at) VALUES (?, ?, ?, ?, ?)",
                     (key, payload_hash, json.dumps(payload, sort_keys=True), deployment_id, time.time()))
