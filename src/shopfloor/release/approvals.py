"""Human approvals bound to exactly one artifact and one diff.

A gate that needs a human records a pending request naming the run, the gate,
the artifact digest and the diff hash. `shopfloor approve RUN_ID GATE` (or the
interviewer, or HTTP) turns the request into a decision row that carries the
same digest and diff hash, the approver, the time and an expiry, sealed with an
HMAC under a key that lives in the state directory (mode 0600). A decision is
honoured only for the digest and diff hash it names, only before it expires and
only if its seal verifies — a row written into the ledger by hand, or one copied
from another artifact, is refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shopfloor.errors import UserError
from shopfloor.release.errors import ApprovalError
from shopfloor.release.ledger import Ledger
from shopfloor.store import state_dir, transaction

#: How long an approval stays usable (24 h); override with `--ttl` or the gate's `approval_ttl` attribute.
DEFAULT_APPROVAL_TTL_S = 24 * 3600.0
KEY_FILE = "approval.key"


def _key(root: Path | None = None) -> bytes:
    """The sealing key, created once. It is written in full to a private temp file and then
    linked into place, so no process (nor a kill -9) can ever see an empty or partial key."""
    path = (root or state_dir()) / "release" / KEY_FILE
    if path.exists():
        return path.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".approval-key-")
    try:
        with os.fdopen(fd, "wb") as fh:  # mkstemp: mode 0600
            fh.write(secrets.token_bytes(32))
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(FileExistsError):  # another process linked its key first: use that one
            os.link(tmp, path)
    finally:
        os.unlink(tmp)
    return path.read_bytes()


@dataclass(frozen=True)
class Decision:
    run_id: str
    gate: str
    digest: str
    diff_hash: str
    decision: str  # "approved" | "rejected"
    approver: str
    reason: str
    decided_at: float
    expires_at: float

    def seal(self, key: bytes) -> str:
        body = json.dumps(self.__dict__, sort_keys=True, separators=(",", ":")).encode()
        return hmac.new(key, body, hashlib.sha256).hexdigest()


@dataclass
class ApprovalCheck:
    """What the ledger says about a gate for one digest + diff hash."""

    status: str  # "approved" | "rejected" | "missing"
    decision: Decision | None = None
    refused: list[str] = field(default_factory=list)  # why other decisions do not count


def request_approval(ledger: Ledger, *, run_id: str, gate: str, digest: str, diff_hash: str,
                     critical: list[str]) -> None:
    """Record (or replace) what the gate of this run is waiting on."""
    with transaction(ledger.conn):
        ledger.conn.execute(
            "INSERT OR REPLACE INTO release_approval_requests (run_id, gate, digest, diff_hash, critical, "
            "requested_at) VALUES (?, ?, ?, ?, ?, ?)",
            (run_id, gate, digest, diff_hash, json.dumps(critical), time.time()))


def pending(ledger: Ledger, run_id: str, gate: str | None = None) -> dict[str, Any]:
    rows = ledger.conn.execute("SELECT * FROM release_approval_requests WHERE run_id = ? ORDER BY gate",
                               (run_id,)).fetchall()
    if gate is not None:
        rows = [r for r in rows if r["gate"] == gate]
    if len(rows) != 1:
        gates = ", ".join(r["gate"] for r in rows)
        what = (f"run {run_id!r} has several gates waiting ({gates})" if rows else
                f"no approval is pending for run {run_id!r}" + (f" gate {gate!r}" if gate else ""))
        raise UserError(what, where="shopfloor approve",
                        fix="name the gate: shopfloor approve RUN_ID GATE" if rows else
                        "check the run id; gates ask only when a candidate touches a critical path")
    return {**dict(rows[0]), "critical": json.loads(rows[0]["critical"])}


def decide(ledger: Ledger, run_id: str, gate: str | None, *, approve: bool, approver: str,
           reason: str = "", ttl_s: float = DEFAULT_APPROVAL_TTL_S, expect_digest: str = "") -> Decision:
    """Approve or reject what the gate is waiting on, bound to its digest and diff hash.

    `expect_digest` (a prefix) is the artifact the human reviewed: if the gate now waits on
    another one, nothing is recorded.
    """
    if not approver.strip():
        raise UserError("approver identity is empty", where="--as", fix="pass --as YOUR_NAME")
    if not approve and not reason.strip():
        raise UserError("a rejection needs a reason", where="--reason", fix="say what must change")
    if ttl_s <= 0:
        raise UserError(f"ttl {ttl_s} must be positive", where="--ttl", fix="pass seconds, e.g. 3600")
    req = pending(ledger, run_id, gate)
    if expect_digest and not req["digest"].startswith(expect_digest):
        raise ApprovalError(f"gate {req['gate']!r} now waits on digest {req['digest'][:12]}, not the "
                            f"{expect_digest[:12]} you reviewed", where=f"run {run_id}",
                            fix="review the new candidate, then approve it with its digest")
    now = time.time()
    decision = Decision(run_id=run_id, gate=req["gate"], digest=req["digest"], diff_hash=req["diff_hash"],
                        decision="approved" if approve else "rejected", approver=approver, reason=reason,
                        decided_at=now, expires_at=now + ttl_s)
    record(ledger, decision)
    return decision


def record(ledger: Ledger, decision: Decision) -> None:
    with transaction(ledger.conn):
        ledger.conn.execute(
            "INSERT INTO release_approvals (run_id, gate, digest, diff_hash, decision, approver, reason, "
            "decided_at, expires_at, mac) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (decision.run_id, decision.gate, decision.digest, decision.diff_hash, decision.decision,
             decision.approver, decision.reason, decision.decided_at, decision.expires_at,
             decision.seal(_key())))


def check(ledger: Ledger, *, run_id: str, gate: str | None, digest: str, diff_hash: str,
          now: float | None = None) -> ApprovalCheck:
    """The latest valid decision for exactly this digest + diff hash (at `gate`, or at any gate of
    the run when None); explains every refusal."""
    now = time.time() if now is None else now
    key = _key()
    result = ApprovalCheck("missing")
    rows = ledger.conn.execute("SELECT * FROM release_approvals WHERE run_id = ? AND (? IS NULL OR gate = ?) "
                               "ORDER BY id", (run_id, gate, gate)).fetchall()
    for row in rows:
        d = Decision(**{k: row[k] for k in Decision.__dataclass_fields__})
        label = f"{d.decision} #{row['id']} by {d.approver}"
        if not hmac.compare_digest(d.seal(key), row["mac"]):
            result.refused.append(f"{label}: seal does not verify (forged or altered)")
        elif d.digest != digest:
            result.refused.append(f"{label}: bound to digest {d.digest[:12]}, not {digest[:12]}")
        elif d.diff_hash != diff_hash:
            result.refused.append(f"{label}: bound to diff {d.diff_hash[:12]}, not {diff_hash[:12]}")
        elif d.expires_at <= now:
            result.refused.append(f"{label}: expired")
        else:
            result.status, result.decision = d.decision, d
    return result


def require(ledger: Ledger, *, run_id: str, gate: str | None, digest: str, diff_hash: str) -> Decision:
    """The approving decision, or ApprovalError saying why there is none."""
    result = check(ledger, run_id=run_id, gate=gate, digest=digest, diff_hash=diff_hash)
    name = f"gate {gate!r}" if gate else "the run's gates"
    if result.status == "approved" and result.decision:
        return result.decision
    if result.status == "rejected" and result.decision:
        raise ApprovalError(f"{name} rejected digest {digest[:12]} ({result.decision.approver}: "
                            f"{result.decision.reason})", where=f"run {run_id}",
                            fix="change the candidate and run the pipeline again")
    why = "; ".join(result.refused) or "no decision recorded"
    raise ApprovalError(f"{name}: digest {digest[:12]} touches critical paths and has no valid human "
                        f"approval ({why})", where=f"run {run_id}",
                        fix="put a shopfloor.gate node before the deploy and approve it: "
                            f"shopfloor approve {run_id} GATE --as YOUR_NAME")
