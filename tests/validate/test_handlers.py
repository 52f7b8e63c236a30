"""The `shopfloor.scenarios` and `shopfloor.contracts` pipeline nodes, in a real pipeline run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shopfloor import assembly
from shopfloor.config import ProjectFile
from shopfloor.errors import UserError
from shopfloor.observe.eventlog import read_events
from shopfloor.pipeline.interviewer import AutoApproveInterviewer
from shopfloor.pipeline.parser import parse_dot
from shopfloor.pipeline.runner import start_run
from tests.support.scenarios import ALL_SCENARIOS, write_candidate, write_suite


def _run(tmp_path: Path, node_attrs: str, config: ProjectFile | None = None, run: str = "run"):
    dot = f"""digraph t {{
      start [shape=Mdiamond]
      check [{node_attrs}]
      exit [shape=Msquare]
      start -> check -> exit
    }}"""
    return start_run(
        parse_dot(dot),
        logs_root=tmp_path / run,
        registry_factory=assembly.registry_factory("simulate"),
        interviewer=AutoApproveInterviewer(),
        config=config,
    )


def _stage_status(tmp_path: Path, run: str = "run") -> str:
    return json.loads((tmp_path / run / "check" / "status.json").read_text())["outcome"]


def test_scenarios_node_partial_success_with_redacted_feedback_and_the_hash_recorded(tmp_path: Path) -> None:
    candidate = write_candidate(tmp_path / "candidate", "overfit")
    sealed = write_suite(tmp_path / "sealed", ALL_SCENARIOS)

    result = _run(
        tmp_path,
        f'type="shopfloor.scenarios", scenarios="{sealed}", target_dir="{candidate}", '
        'trajectories="1", threshold="0.9", lower_bound="0.5"',
    )

    assert _stage_status(tmp_path) == "partial_success"  # 2 of 3 satisfied: above the lower bound
    context = result.context
    assert context["scenarios.satisfaction"] == round(2 / 3, 4)
    assert (
        context["scenarios.feedback"].splitlines()[-1]
        == "- high-priority-pages: 0/1 satisfied; failed: journal"
    )
    assert "Card payments" not in context["scenarios.feedback"]
    report = json.loads((tmp_path / "run" / "check" / "report.json").read_text())
    assert report["scenario_set_hash"] == context["scenarios.hash"]
    assert "# Scenarios: FAIL" in (tmp_path / "run" / "check" / "report.md").read_text()
    events = [e for e in read_events(tmp_path / "run" / "events.jsonl") if e.kind == "scenarios.evaluated"]
    assert events and events[0].data["scenario_set_hash"] == context["scenarios.hash"]


def test_scenarios_node_success_and_fail(tmp_path: Path) -> None:
    sealed = write_suite(tmp_path / "sealed", ALL_SCENARIOS[:1])
    good = write_candidate(tmp_path / "good", "good")
    config_file = tmp_path / "shopfloor.toml"
    config_file.write_text(f'[validate]\nscenarios = "{sealed}"\ntrajectories = 1\n')

    result = _run(tmp_path, f'type="shopfloor.scenarios", target_dir="{good}"', ProjectFile.load(config_file))
    assert result.status == "success", result.outcome.failure_reason
    assert _stage_status(tmp_path) == "success"

    (good / "app.py").write_text("raise SystemExit(1)\n")
    failed = _run(
        tmp_path,
        f'type="shopfloor.scenarios", target_dir="{good}"',
        ProjectFile.load(config_file),
        run="again",
    )
    assert _stage_status(tmp_path, "again") == "fail"
    assert "notify-posts: 0/1 satisfied; failed: ready" in failed.context["scenarios.feedback"]


def test_bad_scenarios_attributes_are_lint_errors_before_the_run(tmp_path: Path) -> None:
    dot = tmp_path / "p.dot"
    dot.write_text("""digraph t {
      start [shape=Mdiamond]
      check [type="shopfloor.scenarios", scenarios="/x", threshold="1.5", redaction="everything"]
      exit [shape=Msquare]
      start -> check -> exit
    }""")
    with pytest.raises(UserError) as info:
        assembly.pipeline_preparer().prepare(dot)
    assert "threshold='1.5' is outside 0..1" in info.value.line() or "redaction" in info.value.line()


def test_contracts_node_fails_on_a_violation_and_writes_its_report(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "src" / "app.py").write_text("import pickle\n")
    config_file = tmp_path / "shopfloor.toml"
    config_file.write_text('[[contracts.forbidden]]\npattern = "import pickle"\npaths = ["src/*.py"]\n')

    result = _run(
        tmp_path, f'type="shopfloor.contracts", target_dir="{project}"', ProjectFile.load(config_file)
    )

    assert _stage_status(tmp_path) == "fail"
    assert result.context["contracts.failed"] == ["forbidden"]
    assert "src/app.py:1" in (tmp_path / "run" / "check" / "contracts.md").read_text()
