"""shopfloor.gate and shopfloor.deploy inside a real pipeline run (engine, assembly, interviewer)."""

from __future__ import annotations

import json
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
