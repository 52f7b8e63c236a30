"""The README's main job: the notifier factory, offline, end to end.

Asserted from the run directory and the release ledger, not from printed text:
the repair worker fixes the defects; its first, overfit candidate passes the
visible tests but is rejected by the sealed scenarios; the gate records an
approval bound to the candidate's digest; the canary deploy runs, the injected
fault fails its analysis, and all traffic returns to the stable release.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from shopfloor.observe.eventlog import read_events, verify
from shopfloor.release.ledger import Ledger
from tests.conftest import REPO_ROOT

EXAMPLE = REPO_ROOT / "examples" / "notifier"


@pytest.fixture
def factory_run(shopfloor_cmd: list[str], tmp_path: Path):
    logs = tmp_path / "run"
    env = dict(os.environ)
    try:
        proc = subprocess.run([*shopfloor_cmd, "run", "factory.dot", "--backend", "auto", "--auto-approve",
                               "--json", "--logs-root", str(logs)], cwd=EXAMPLE, env=env,
                              capture_output=True, text=True, timeout=900)
        yield proc, logs
    finally:
        subprocess.run([*shopfloor_cmd, "release", "stop-target", "--target", "notifier"], cwd=EXAMPLE,
                       env=env, capture_output=True, timeout=60)


@pytest.mark.slow
def test_notifier_factory_repairs_rejects_the_overfit_gates_and_rolls_back(factory_run,
                                                                         shopfloor_cmd: list[str]) -> None:
    proc, logs = factory_run
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    nodes = result["completed_nodes"]
    ctx = result["context"]

    # The repair worker made every visible test pass, twice: once overfit, once for real.
    assert nodes.count("implement") == 2 and nodes.count("scenarios") == 2
    assert ctx["repair.repaired"] is True and ctx["tests.visible.failed"] == 0
    patch = (logs / "implement" / "repair.patch").read_text()
    assert "+    if event_type not in NOTIFIED_EVENTS:" in patch
    assert "- 1" not in patch  # the overfit threshold is not what shipped

    # The sealed scenarios rejected the first candidate and accepted the second.
    verify(logs / "events.jsonl")
    events = list(read_events(logs / "events.jsonl"))
    verdicts = [e.data for e in events if e.kind == "scenarios.evaluated"]
    assert [v["status"] for v in verdicts][-1] == "success" and verdicts[0]["status"] != "success"
    assert verdicts[0]["satisfaction"] < 1.0 <= verdicts[-1]["satisfaction"]
    assert any(e.kind == "repair.restarted" for e in events)
    assert ctx["contracts.passed"] is True

    # The gate asked for a human (critical path) and the approval is bound to the candidate's digest.
    digest = ctx["release.digest"]
    with Ledger() as ledger:
        approvals = ledger.conn.execute(
            "SELECT * FROM release_approvals WHERE run_id = ? AND gate = 'gate'",
            (json.loads((logs / "manifest.json").read_text())["run_id"],)).fetchall()
        deployments = ledger.deployments("notifier")
    assert [(a["digest"], a["decision"]) for a in approvals] == [(digest, "approved")]

    # Production today was deployed first; the canary of the candidate was rolled back automatically.
    baseline, canary = deployments
    assert baseline.state == "succeeded" and baseline.digest != digest
    assert canary.digest == digest and canary.state == "rolled_back"
    assert canary.fault and canary.fault["abort_rate"] == 0.5
    assert canary.result["restore_s"] >= 0
    assert nodes[-2:] == ["rolled_back", "exit"]

    # The run ends with a report holding the graph, the satisfaction figures and the timeline.
    report = subprocess.run([*shopfloor_cmd, "report", "--logs-root", str(logs), "--json"],
                            capture_output=True, text=True, timeout=60)
    summary = json.loads(report.stdout)
    assert summary["figures"]["scenarios.satisfaction"] == 1.0
    page = Path(summary["report"]).read_text()
    assert "<svg" in page and "scenarios.evaluated" in page and "rolled_back" in page
