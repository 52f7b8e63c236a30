"""Satisfaction statistics, expectation matching, redaction levels and the rubric judge."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shopfloor.validate.leaks import find_leaks
from shopfloor.validate.matching import dig, matches
from shopfloor.validate.report import ScenarioReport, ScenarioScore
from shopfloor.validate.runner import RunOptions, run_scenarios
from shopfloor.validate.stats import wilson_interval
from shopfloor.validate.suite import load_suite
from shopfloor.validate.trajectory import Failure, TrajectoryResult
from tests.support.llm_server import Reply
from tests.support.scenarios import NOTIFY, write_candidate, write_suite


def test_wilson_interval_matches_the_textbook_values() -> None:
    low, high = wilson_interval(8, 10)
    assert (round(low, 4), round(high, 4)) == (0.4902, 0.9433)
    assert wilson_interval(0, 5)[0] == 0.0 and round(wilson_interval(0, 5)[1], 4) == 0.4345
    assert wilson_interval(0, 0) == (0.0, 1.0)


@pytest.mark.parametrize(
    ("expected", "actual", "result"),
    [
        ({"a": 1}, {"a": 1, "b": 2}, True),
        ({"a": 1, "c": 3}, {"a": 1}, False),
        ([{"id": 2}], [{"id": 1}, {"id": 2}], True),
        ({"text": {"$regex": "^OPS-\\d+"}}, {"text": "OPS-12: x"}, True),
        ({"text": {"$contains": "disk"}}, {"text": "no"}, False),
        ({"tags": {"$contains": "p1"}}, {"tags": ["p1", "x"]}, True),
        ({"gone": {"$exists": False}}, {}, True),
        ({"n": {"$ne": 0}}, {"n": 0}, False),
        (True, 1, False),  # booleans are not integers
    ],
)
def test_subset_matching(expected: object, actual: object, result: bool) -> None:
    assert matches(expected, actual) is result


def test_dig_follows_dotted_paths_and_list_indexes() -> None:
    assert dig({"issues": {"PAY-1": {"labels": ["a", "b"]}}}, "issues.PAY-1.labels.1") == "b"
    with pytest.raises(KeyError):
        dig({"a": {}}, "a.b")


def _report() -> ScenarioReport:
    fail = TrajectoryResult(
        "pages-oncall",
        0,
        None,
        False,
        [Failure("journal", "slack journal POST /api/chat.postMessage: 0 matching, text 'Disk'")],
    )
    ok = TrajectoryResult("pages-oncall", 1, "chaos.yaml", True)
    quiet = TrajectoryResult("quiet", 0, None, True)
    return ScenarioReport(
        "suite",
        "h" * 64,
        "target",
        "cmd",
        [ScenarioScore("pages-oncall", "t", [fail, ok]), ScenarioScore("quiet", "t", [quiet])],
    )


def test_redaction_levels_decide_what_the_agent_is_told() -> None:
    report = _report()
    assert report.flaky == ["pages-oncall"]
    assert report.feedback("count").endswith("1 scenario(s) failed.")
    kind = report.feedback("kind")
    assert "- pages-oncall: 1/2 satisfied; failed: journal" in kind and "Disk" not in kind
    assert "text 'Disk'" in report.feedback("message")


def test_the_rubric_judge_is_recorded_and_a_fail_verdict_fails_the_trajectory(
    tmp_path: Path, llm_env
) -> None:
    candidate = write_candidate(tmp_path / "candidate", "good")
    judged = {
        **NOTIFY,
        "rubric": {
            "question": "Is the message useful to the on-call engineer?",
            "evidence": [{"journal": {"twin": "slack", "path": "/api/chat.postMessage"}}],
            "model": "gpt-5.2",
        },
    }
    sealed = write_suite(tmp_path / "sealed", (judged,), trajectories=2)
    llm_env.push(
        Reply(text=json.dumps({"verdict": "pass", "reason": "It names the cluster.", "confidence": 0.9})),
        Reply(text=json.dumps({"verdict": "fail", "reason": "No link to the deploy.", "confidence": 0.7})),
    )

    report = run_scenarios(load_suite(sealed), RunOptions(target_dir=candidate, parallel=1))

    verdicts = [t.judge for t in report.scenarios[0].trajectories]
    assert [v["verdict"] for v in verdicts] == ["pass", "fail"]
    assert verdicts[1]["reason"] == "No link to the deploy." and verdicts[1]["confidence"] == 0.7
    assert [t.satisfied for t in report.scenarios[0].trajectories] == [True, False]
    assert report.scenarios[0].trajectories[1].failures[0].kind == "rubric"
    assert "east cluster" in json.dumps(llm_env.requests[0].body)  # the judge saw the posted message


def test_without_a_provider_the_rubric_is_skipped_with_a_note(tmp_path: Path) -> None:
    candidate = write_candidate(tmp_path / "candidate", "good")
    sealed = write_suite(tmp_path / "sealed", ({**NOTIFY, "rubric": {"question": "Useful?"}},))

    report = run_scenarios(load_suite(sealed), RunOptions(target_dir=candidate))

    trajectory = report.scenarios[0].trajectories[0]
    assert trajectory.satisfied
    assert trajectory.judge == {
        "verdict": "skipped",
        "reason": "rubric skipped: no LLM provider configured",
        "confidence": None,
        "model": None,
    }
    assert "rubric skipped: no LLM provider configured" in report.to_markdown()


def test_text_the_agent_was_given_is_no_evidence_of_a_leak(tmp_path: Path) -> None:
    sealed = write_suite(tmp_path / "sealed", (NOTIFY,))
    spec = tmp_path / "spec.md"
    spec.write_text("Requirement: a notification request is posted to its Slack channel within a second.")
    code = tmp_path / "app.py"
    code.write_text("# a notification request is posted to its Slack channel\n")
    suite = load_suite(sealed)

    assert [leak.scenario for leak in find_leaks(suite.scenarios, [code])] == ["notify-posts"]
    assert find_leaks(suite.scenarios, [code], public=[spec]) == []
