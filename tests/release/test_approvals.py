"""Gates and approvals: critical paths need a human, and an approval fits one digest + diff only."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from shopfloor.config import ProjectFile
from shopfloor.release import approvals
from shopfloor.release.errors import ApprovalError
from shopfloor.release.gate import evaluate
from shopfloor.release.ledger import Ledger
from shopfloor.release.releases import create_release
from tests.support.release import make_service

POLICY = '[policy]\ncritical_paths = ["billing/**", "migrations/*.sql"]\n'
EVIDENCE = [{"name": "scenarios", "passed": True}]


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[ProjectFile, Ledger, str, Path]:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "shopfloor.toml").write_text(POLICY)
    config = ProjectFile.load()
    ledger = Ledger()
    base, _ = create_release(make_service(tmp_path / "base", "v1"), config, ledger=ledger,
                             validation=EVIDENCE, satisfaction=1.0)
    return config, ledger, base.digest, tmp_path


def _candidate(config: ProjectFile, ledger: Ledger, root: Path, *, billing: str | None,
               version: str = "v2", satisfaction: float = 1.0, passed: bool = True) -> str:
    make_service(root, version)
    if billing is not None:
        (root / "billing").mkdir(exist_ok=True)
        (root / "billing" / "charge.py").write_text(billing)
    manifest, _ = create_release(root, config, ledger=ledger, satisfaction=satisfaction,
                                 validation=[{"name": "scenarios", "passed": passed}])
    return manifest.digest


def test_a_candidate_touching_no_critical_path_passes_on_its_evidence(setup) -> None:
    config, ledger, base, tmp = setup
    digest = _candidate(config, ledger, tmp / "c", billing=None)
    decision = evaluate(config, ledger, run_id="r1", gate="gate", digest=digest, base=base)
    assert decision.status == "passed" and decision.critical == []
    assert decision.changed == ["version.txt"]


def test_failing_evidence_fails_the_gate(setup) -> None:
    config, ledger, base, tmp = setup
    low = _candidate(config, ledger, tmp / "low", billing=None, version="v3", satisfaction=0.5)
    assert evaluate(config, ledger, run_id="r1", gate="g", digest=low, base=base).status == "failed"
    bad = _candidate(config, ledger, tmp / "bad", billing=None, version="v4", passed=False)
    decision = evaluate(config, ledger, run_id="r1", gate="g", digest=bad, base=base)
    assert decision.status == "failed" and "validation 'scenarios' failed" in decision.reasons


def test_critical_path_needs_an_approval_bound_to_the_digest(setup, shopfloor_cmd: list[str]) -> None:
    config, ledger, base, tmp = setup
    digest = _candidate(config, ledger, tmp / "c", billing="charge = 1\n")
    first = evaluate(config, ledger, run_id="r1", gate="gate", digest=digest, base=base)
    assert first.status == "approval_required" and first.critical == ["billing/charge.py"]

    proc = subprocess.run([*shopfloor_cmd, "approve", "r1", "gate", "--as", "alice", "--json"],
                          capture_output=True, text=True, cwd=tmp)
    assert proc.returncode == 0, proc.stderr
    assert f'"digest": "{digest}"' in proc.stdout and '"approver": "alice"' in proc.stdout

    second = evaluate(config, ledger, run_id="r1", gate="gate", digest=digest, base=base)
    assert second.status == "passed" and second.approver == "alice"
    row = ledger.conn.execute("SELECT approver, decided_at, digest, diff_hash "
                              "FROM release_approvals").fetchone()
    assert row["approver"] == "alice" and row["decided_at"] <= time.time()
    assert (row["digest"], row["diff_hash"]) == (digest, first.diff_hash)


def test_a_reused_approval_does_not_fit_another_digest(setup) -> None:
    config, ledger, base, tmp = setup
    approved = _candidate(config, ledger, tmp / "c", billing="charge = 1\n")
    evaluate(config, ledger, run_id="r1", gate="gate", digest=approved, base=base)
    approvals.decide(ledger, "r1", "gate", approve=True, approver="alice")
    assert evaluate(config, ledger, run_id="r1", gate="gate", digest=approved, base=base).status == "passed"

    # The agent changes the code after the approval: same run, same gate, new digest.
    changed = _candidate(config, ledger, tmp / "c", billing="charge = 1000\n")
    decision = evaluate(config, ledger, run_id="r1", gate="gate", digest=changed, base=base)
    assert decision.status == "approval_required"
    # A reviewer who looked at the first candidate cannot approve the second by accident.
    with pytest.raises(ApprovalError, match="not the"):
        approvals.decide(ledger, "r1", "gate", approve=True, approver="alice", expect_digest=approved[:12])
    assert any("bound to digest" in r for r in decision.reasons)
    with pytest.raises(ApprovalError, match="bound to digest"):
        approvals.require(ledger, run_id="r1", gate="gate", digest=changed, diff_hash=decision.diff_hash)


def test_a_forged_approval_row_is_refused(setup) -> None:
    config, ledger, base, tmp = setup
    digest = _candidate(config, ledger, tmp / "c", billing="charge = 1\n")
    decision = evaluate(config, ledger, run_id="r1", gate="gate", digest=digest, base=base)
    # Someone with write access to the ledger inserts an approval by hand.
    raw = sqlite3.connect(ledger.conn.execute("PRAGMA database_list").fetchone()[2])
    raw.execute("INSERT INTO release_approvals (run_id, gate, digest, diff_hash, decision, approver, "
                "reason, decided_at, expires_at, mac) "
                "VALUES ('r1', 'gate', ?, ?, 'approved', 'mallory', '', ?, ?, ?)",
                (digest, decision.diff_hash, time.time(), time.time() + 3600, "0" * 64))
    raw.commit()
    raw.close()
    again = evaluate(config, ledger, run_id="r1", gate="gate", digest=digest, base=base)
    assert again.status == "approval_required"
    assert any("forged" in r for r in again.reasons)


def test_an_altered_approval_is_refused(setup) -> None:
    config, ledger, base, tmp = setup
    a = _candidate(config, ledger, tmp / "a", billing="charge = 1\n")
    evaluate(config, ledger, run_id="r1", gate="gate", digest=a, base=base)
    approvals.decide(ledger, "r1", "gate", approve=True, approver="alice")
    b = _candidate(config, ledger, tmp / "b", billing="charge = 2\n")
    decision = evaluate(config, ledger, run_id="r1", gate="gate", digest=b, base=base)
    ledger.conn.execute("UPDATE release_approvals SET digest = ?, diff_hash = ?", (b, decision.diff_hash))
    again = evaluate(config, ledger, run_id="r1", gate="gate", digest=b, base=base)
    assert again.status == "approval_required" and any("forged or altered" in r for r in again.reasons)


def test_approvals_expire(setup) -> None:
    config, ledger, base, tmp = setup
    digest = _candidate(config, ledger, tmp / "c", billing="charge = 1\n")
    evaluate(config, ledger, run_id="r1", gate="gate", digest=digest, base=base)
    approvals.decide(ledger, "r1", "gate", approve=True, approver="alice", ttl_s=0.05)
    time.sleep(0.1)
    decision = evaluate(config, ledger, run_id="r1", gate="gate", digest=digest, base=base)
    assert decision.status == "approval_required" and any("expired" in r for r in decision.reasons)


def test_reject_fails_the_gate_and_needs_a_reason(setup, shopfloor_cmd: list[str]) -> None:
    config, ledger, base, tmp = setup
    digest = _candidate(config, ledger, tmp / "c", billing="charge = 1\n")
    evaluate(config, ledger, run_id="r1", gate="gate", digest=digest, base=base)
    no_reason = subprocess.run([*shopfloor_cmd, "reject", "r1", "gate", "--reason", " "], capture_output=True,
                               text=True, cwd=tmp)
    assert no_reason.returncode == 2 and "needs a reason" in no_reason.stderr
    proc = subprocess.run([*shopfloor_cmd, "reject", "r1", "--reason", "charges 1000x", "--as", "bob"],
                          capture_output=True, text=True, cwd=tmp)
    assert proc.returncode == 0, proc.stderr
    decision = evaluate(config, ledger, run_id="r1", gate="gate", digest=digest, base=base)
    assert decision.status == "failed" and "rejected by bob: charges 1000x" in decision.reasons


def test_approve_without_a_pending_gate_is_one_clear_line(tmp_path: Path, shopfloor_cmd: list[str]) -> None:
    proc = subprocess.run([*shopfloor_cmd, "approve", "no-such-run"], capture_output=True, text=True,
                          cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "no approval is pending for run 'no-such-run'" in proc.stderr


def test_the_sealing_key_is_created_whole_once_and_private(tmp_path: Path) -> None:
    first = approvals._key(tmp_path)
    key_file = tmp_path / "release" / approvals.KEY_FILE
    assert len(first) == 32 and approvals._key(tmp_path) == first
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in key_file.parent.iterdir()] == [approvals.KEY_FILE]  # no temp file left


def test_a_gate_attribute_that_is_not_a_number_is_refused_before_the_run(tmp_path: Path,
                                                                         shopfloor_cmd: list[str]) -> None:
    dot = tmp_path / "gate.dot"
    dot.write_text('digraph g { start [shape=Mdiamond]; exit [shape=Msquare]; '
                   'gate [type="shopfloor.gate", min_satisfaction="lots"]; start -> gate -> exit }\n')
    proc = subprocess.run([*shopfloor_cmd, "validate", str(dot), "--json"], capture_output=True, text=True)
    assert proc.returncode == 1
    rules = [d["rule"] for d in json.loads(proc.stdout)["diagnostics"]]
    assert "gate_attributes" in rules
