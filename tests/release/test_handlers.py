"""shopfloor.gate and shopfloor.deploy inside a real pipeline run (engine, assembly, interviewer)."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path

from shopfloor.assembly import registry_factory
from shopfloor.config import ProjectFile
from shopfloor.pipeline.interviewer import Answer, AnswerValue, QueueInterviewer
from shopfloor.pipeline.prepare import prepare_pipeline
from shopfloor.pipeline.runner import start_run
from shopfloor.release.ledger import Ledger
from shopfloor.release.releases import create_release
from tests.support.release import make_service, starts, target_toml

PIPELINE = """
digraph ship {
  start  [shape=Mdiamond]
  gate   [type="shopfloor.gate", target="web", require_evidence="false"]
  deploy [type="shopfloor.deploy", target="web"]
  done   [shape=Msquare]
  start -> gate -> deploy -> done
}
"""


def _run(project: Path, workspace: Path, answers: list[Answer], logs: str):
    return start_run(prepare_pipeline(PIPELINE, handler_types=["shopfloor.gate", "shopfloor.deploy"]),
                     logs_root=project.parent / logs, registry_factory=registry_factory("simulate"),
                     interviewer=QueueInterviewer(answers), config=ProjectFile.load(),
                     initial_context={"release.workspace": str(workspace)})


def test_a_critical_change_ships_after_the_interviewer_approves(project: Path) -> None:
    (project / "shopfloor.toml").write_text(target_toml() + '\n[policy]\ncritical_paths = ["billing/**"]\n')
    workspace = make_service(project.parent / "ws", "v1")
    (workspace / "billing").mkdir()
    (workspace / "billing" / "charge.py").write_text("charge = 1\n")
    result = _run(project, workspace, [Answer(value=AnswerValue.YES)], "run1")
    assert result.status == "success", result.outcome
    assert result.context["release.gate"] == "passed"
    assert result.context["release.approver"] == "interviewer:QueueInterviewer"
    assert result.context["release.state"] == "succeeded"
    assert starts(project.parent) == ["v1"]
    with Ledger() as ledger:
        row = ledger.conn.execute("SELECT run_id, gate, digest FROM release_approvals").fetchone()
        assert (row["run_id"], row["gate"], row["digest"]) == (result.run_id, "gate",
                                                               result.context["release.digest"])
        assert ledger.snapshot(result.run_id) is not None  # recorded when the run started


def test_a_rejected_critical_change_never_deploys(project: Path) -> None:
    (project / "shopfloor.toml").write_text(target_toml() + '\n[policy]\ncritical_paths = ["billing/**"]\n')
    workspace = make_service(project.parent / "ws", "v1")
    (workspace / "billing").mkdir()
    (workspace / "billing" / "charge.py").write_text("charge = 1000\n")
    result = _run(project, workspace, [Answer(value=AnswerValue.NO, text="wrong amount")], "run2")
    assert result.status == "fail"
    assert result.node_outcomes.get("gate") == "fail" and "deploy" not in result.completed_nodes
    assert starts(project.parent) == []


def test_a_change_outside_critical_paths_needs_no_human(project: Path) -> None:
    (project / "shopfloor.toml").write_text(target_toml() + '\n[policy]\ncritical_paths = ["billing/**"]\n')
    workspace = make_service(project.parent / "ws", "v1")
    result = _run(project, workspace, [], "run3")  # an empty queue: any question would go unanswered
    assert result.status == "success", result.outcome
    assert result.context["release.approver"] == "" and result.context["release.state"] == "succeeded"


def test_a_pipeline_without_a_gate_cannot_ship_a_critical_change(project: Path) -> None:
    (project / "shopfloor.toml").write_text(target_toml() + '\n[policy]\ncritical_paths = ["billing/**"]\n')
    workspace = make_service(project.parent / "ws", "v1")
    (workspace / "billing").mkdir()
    (workspace / "billing" / "charge.py").write_text("charge = 1\n")
    with Ledger() as ledger:
        digest = create_release(workspace, ProjectFile.load(), ledger=ledger)[0].digest
    ungated = """
    digraph sneaky {
      start  [shape=Mdiamond]
      deploy [type="shopfloor.deploy", target="web"]
      done   [shape=Msquare]
      start -> deploy -> done
    }
    """
    result = start_run(prepare_pipeline(ungated, handler_types=["shopfloor.deploy"]),
                       logs_root=project.parent / "run4", registry_factory=registry_factory("simulate"),
                       interviewer=QueueInterviewer([]), config=ProjectFile.load(),
                       initial_context={"release.digest": digest})
    assert result.status == "fail" and result.node_outcomes.get("deploy") == "fail"
    status = json.loads((project.parent / "run4" / "deploy" / "status.json").read_text())
    assert "touches critical paths and has no valid human approval" in status["failure_reason"]
    assert starts(project.parent) == []


def test_a_waiting_gate_takes_an_approval_from_the_cli(project: Path, shopfloor_cmd: list[str]) -> None:
    (project / "shopfloor.toml").write_text(target_toml() + '\n[policy]\ncritical_paths = ["billing/**"]\n')
    workspace = make_service(project.parent / "ws", "v1")
    (workspace / "billing").mkdir()
    (workspace / "billing" / "charge.py").write_text("charge = 1\n")
    waiting = PIPELINE.replace('require_evidence="false"', 'require_evidence="false", approval_wait="30"')
    results: list = []
    runner = threading.Thread(target=lambda: results.append(start_run(
        prepare_pipeline(waiting, handler_types=["shopfloor.gate", "shopfloor.deploy"]),
        logs_root=project.parent / "run5", registry_factory=registry_factory("simulate"),
        interviewer=QueueInterviewer([Answer(value=AnswerValue.TIMEOUT)]), config=ProjectFile.load(),
        initial_context={"release.workspace": str(workspace)})))
    runner.start()
    run_id = ""
    deadline = time.monotonic() + 20
    with Ledger() as ledger:
        while not run_id and time.monotonic() < deadline:
            row = ledger.conn.execute("SELECT run_id FROM release_approval_requests").fetchone()
            run_id = row["run_id"] if row else ""
            time.sleep(0.05)
    approve = subprocess.run([*shopfloor_cmd, "approve", run_id, "gate", "--as", "dave"], capture_output=True,
                             text=True, cwd=project)
    runner.join(60)
    assert approve.returncode == 0, approve.stderr
    assert results and results[0].status == "success", results
    assert results[0].context["release.approver"] == "dave"
    assert starts(project.parent) == ["v1"]
