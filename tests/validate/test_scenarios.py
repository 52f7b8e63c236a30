"""The scenario runner against a real service in a real sandbox, with real twins."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from shopfloor.errors import UserError
from shopfloor.validate.runner import RunOptions, run_scenarios
from shopfloor.validate.suite import load_suite
from tests.support.scenarios import ALL_SCENARIOS, HIGH_PRIORITY, NOTIFY, write_candidate, write_suite

BURST_SCENARIO = """
ID = "burst"
TITLE = "three notifications, three posts"


def run(t):
    for n in range(3):
        reply = t.http("POST", "/notify", json={"channel": "oncall", "text": f"n{n}"})
        t.check("response", reply.status == 200, "notify failed")
    posts = t.journal("slack", "POST", "/api/chat.postMessage")
    t.check("journal", len(posts) == 3, "not three posts")
"""
PYTEST = f"{sys.executable} -m pytest -q -p no:cacheprovider tests"


def test_a_good_candidate_satisfies_every_scenario_across_chaos(tmp_path: Path) -> None:
    candidate = write_candidate(tmp_path / "candidate", "good")
    suite = load_suite(write_suite(tmp_path / "sealed", chaos=True, trajectories=2))

    report = run_scenarios(suite, RunOptions(target_dir=candidate, parallel=2, visible_tests=PYTEST))

    assert report.passed, report.to_markdown()
    assert (report.satisfied, report.total) == (6, 6)
    assert [t.chaos for t in report.scenarios[0].trajectories] == [None, "chaos.yaml"]
    assert report.flaky == []
    assert report.visible is not None and (report.visible.passed, report.visible.total) == (2, 2)
    data = report.to_dict()
    assert data["scenario_set_hash"] == suite.digest and len(suite.digest) == 64
    low, high = data["interval_95"]
    assert 0.5 < low < 1.0 and high == 1.0
    assert "overfitting gap +0 points" in report.to_markdown()


def test_a_candidate_that_gives_up_on_rate_limits_is_flagged_flaky(tmp_path: Path) -> None:
    candidate = write_candidate(tmp_path / "candidate", "no_retry")
    suite = load_suite(write_suite(tmp_path / "sealed", (NOTIFY,), chaos=True, trajectories=2))

    report = run_scenarios(suite, RunOptions(target_dir=candidate, parallel=2))

    score = report.scenarios[0]
    assert [t.satisfied for t in score.trajectories] == [True, False]  # calm run passes, the 429 run fails
    assert score.flaky and report.flaky == ["notify-posts"]
    assert not report.passed
    assert "step" in score.failure_kinds()  # the /notify call answered 502, not the expected 200
    assert "visible tests: not run" in report.to_markdown()


def test_an_overfitting_candidate_passes_its_tests_but_is_rejected(
    tmp_path: Path, shopfloor_cmd: list[str]
) -> None:
    candidate = write_candidate(tmp_path / "candidate", "overfit")
    sealed = write_suite(tmp_path / "sealed", (HIGH_PRIORITY,), trajectories=2)
    out = tmp_path / "reports"

    proc = subprocess.run(
        [
            *shopfloor_cmd,
            "scenarios",
            "run",
            str(sealed),
            "--target-dir",
            str(candidate),
            "--visible-tests",
            PYTEST,
            "--parallel",
            "2",
            "--out",
            str(out),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert report["visible_tests"]["pass_rate"] == 1.0
    assert report["satisfaction"] == 0.0
    assert report["overfitting_gap"] == 1.0
    assert report["verdict"] == "FAIL"
    assert "overfitting gap +100 points" in (out / "report.md").read_text()
    feedback = (out / "feedback.txt").read_text()
    assert "high-priority-pages: 0/2 satisfied; failed: journal" in feedback
    assert "Card payments" not in feedback  # the default redaction never quotes the scenario


def test_a_candidate_that_copies_scenario_text_fails_on_the_leak(tmp_path: Path) -> None:
    candidate = write_candidate(tmp_path / "candidate", "good")
    sealed = write_suite(tmp_path / "sealed", (HIGH_PRIORITY,))
    (candidate / "notes.md").write_text(f"# what the grader checks\n{yaml.safe_dump(HIGH_PRIORITY)}")
    transcript = tmp_path / "transcript.jsonl"
    transcript.write_text(json.dumps({"role": "assistant", "text": "A low-priority issue posts nothing"}))

    report = run_scenarios(load_suite(sealed), RunOptions(target_dir=candidate, transcripts=[transcript]))

    assert report.satisfaction == 1.0
    assert [(leak.scenario, Path(leak.file).name) for leak in report.leaks] == [
        ("high-priority-pages", "notes.md")
    ]
    assert not report.passed and report.verdict() == "FAIL (scenario text leaked)"
    assert "scenario text was found" in report.feedback()


def test_the_leak_check_scans_the_agent_transcript(tmp_path: Path) -> None:
    candidate = write_candidate(tmp_path / "candidate", "good")
    sealed = write_suite(tmp_path / "sealed", (NOTIFY,))
    transcript = tmp_path / "transcript.md"
    transcript.write_text("The hidden test reads: A notification request is posted to its Slack channel.")

    report = run_scenarios(load_suite(sealed), RunOptions(target_dir=candidate, transcripts=[transcript]))

    assert [leak.file for leak in report.leaks] == [str(transcript)]


def test_the_candidate_cannot_read_the_sealed_scenarios(tmp_path: Path) -> None:
    candidate = write_candidate(tmp_path / "candidate", "good")
    sealed = tmp_path / "sealed"
    peek = {
        "id": "peek",
        "title": "the sandbox hides the suite",
        "steps": [{"cli": {"argv": ["cat", str(sealed / "suite.yaml")], "expect_exit": 0}}],
    }
    write_suite(sealed, (peek,))

    report = run_scenarios(load_suite(sealed), RunOptions(target_dir=candidate))

    failure = report.scenarios[0].trajectories[0].failures[0]
    assert failure.kind == "step" and "No such file or directory" in failure.message


# Exits 0 only when every attempt on the Slack twin's control API is refused with 403.
ERASE_JOURNAL = """
import os, sys, urllib.error, urllib.request as r
for path in sys.argv[1:]:
    try:
        r.urlopen(r.Request(os.environ["SLACK_URL"] + path, method="DELETE"))
        sys.exit(f"{path}: erased")
    except urllib.error.HTTPError as exc:
        if exc.code != 403:
            sys.exit(f"{path}: {exc}")
"""


def test_the_candidate_cannot_reach_the_twins_control_api(tmp_path: Path) -> None:
    candidate = write_candidate(tmp_path / "candidate", "good")
    (candidate / "erase.py").write_text(ERASE_JOURNAL)
    cheat = {
        "id": "cheat",
        "title": "post, then try to erase the evidence",
        "steps": [
            {"http": {"method": "POST", "path": "/notify", "json": {"channel": "oncall", "text": "one"}}},
            {
                "cli": {
                    "argv": [sys.executable, "erase.py", "/_twin/journal", "/%5Ftwin/journal", "/_twin?x=1"]
                }
            },
        ],
        "expect": [{"journal": {"twin": "slack", "path": "/api/chat.postMessage", "count": 1}}],
    }
    sealed = write_suite(tmp_path / "sealed", (cheat,))

    report = run_scenarios(load_suite(sealed), RunOptions(target_dir=candidate))

    assert report.passed, report.to_markdown()  # every attempt refused, and the journal kept the post


def test_scenarios_inside_the_workspace_are_refused(tmp_path: Path) -> None:
    candidate = write_candidate(tmp_path / "candidate", "good")
    suite = load_suite(write_suite(candidate / "scenarios", (NOTIFY,)))
    with pytest.raises(UserError, match="inside the candidate's directory"):
        run_scenarios(suite, RunOptions(target_dir=candidate))


def test_a_python_scenario_and_a_broken_candidate(tmp_path: Path) -> None:
    candidate = write_candidate(tmp_path / "candidate", "good")
    sealed = write_suite(tmp_path / "sealed", ())
    (sealed / "burst.py").write_text(BURST_SCENARIO)
    report = run_scenarios(load_suite(sealed), RunOptions(target_dir=candidate))
    assert report.passed, report.to_markdown()

    (candidate / "app.py").write_text("raise SystemExit(3)\n")
    broken = run_scenarios(load_suite(sealed), RunOptions(target_dir=candidate))
    failure = broken.scenarios[0].trajectories[0].failures[0]
    assert failure.kind == "ready" and "exited (status 3)" in failure.message


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"id": "x", "steps": [{"http": {"path": "/"}, "wait": 1}]}, "exactly one of"),
        ({"id": "x", "expect": [{"journal": {"twin": "slack", "cuont": 1}}]}, "Extra inputs"),
        ({"id": "other"}, "differs from its file name"),
    ],
)
def test_a_malformed_scenario_is_one_line_naming_the_file(
    tmp_path: Path, content: dict, message: str
) -> None:
    sealed = write_suite(tmp_path / "sealed", ())
    (sealed / "x.yaml").write_text(yaml.safe_dump(content))
    with pytest.raises(UserError, match=message) as info:
        load_suite(sealed)
    assert "x.yaml" in info.value.line() and "\n" not in info.value.line()


def test_cli_bad_input_exits_2_with_one_line(tmp_path: Path, shopfloor_cmd: list[str]) -> None:
    proc = subprocess.run([*shopfloor_cmd, "scenarios", "run", str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "no suite.yaml" in proc.stderr
    sealed = write_suite(tmp_path / "sealed", (NOTIFY,))
    candidate = write_candidate(tmp_path / "candidate")
    argv = ["scenarios", "run", str(sealed), "--target-dir", str(candidate), "--trajectories", "0"]
    zero = subprocess.run([*shopfloor_cmd, *argv], capture_output=True, text=True)
    assert zero.returncode == 2 and "trajectories must be at least 1" in zero.stderr


def test_suite_templates_fail_clearly_when_unknown(tmp_path: Path) -> None:
    candidate = write_candidate(tmp_path / "candidate", "good")
    sealed = write_suite(
        tmp_path / "sealed",
        (ALL_SCENARIOS[0],),
        extra={"candidate": {"command": "true", "env": {"X": "{{twins.slak.url}}"}}},
    )
    with pytest.raises(UserError, match=r"unknown template \{\{twins.slak.url\}\}"):
        run_scenarios(load_suite(sealed), RunOptions(target_dir=candidate))
