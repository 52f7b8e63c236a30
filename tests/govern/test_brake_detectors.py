"""Each detector on recorded-style event streams: it fires on the runaway, not on healthy work."""

from __future__ import annotations

from typing import Any

import pytest

from shopfloor.config import ProjectFile
from shopfloor.govern.brake import Brake, BrakeConfig
from shopfloor.govern.brake.evidence import parse_test_counts
from shopfloor.govern.brake.gaming import empty_tests
from shopfloor.govern.policy import load_policy
from tests.support.brake import EventScript, healthy_script, pytest_output

POLICY = load_policy(ProjectFile(None, {}))


def _run(script: EventScript, config: BrakeConfig | None = None, **kw: Any) -> Brake:
    brake = Brake(POLICY, config, **kw)
    for i, event in enumerate(script.events):
        brake.observe(event["kind"], event["data"], i)
    return brake


def _fired(brake: Brake) -> dict[str, str]:
    out: dict[str, str] = {}
    for iv in brake.interventions:
        out.setdefault(iv.detector, iv.reason)
    return out


def test_healthy_trajectory_of_50_plus_steps_has_no_findings() -> None:
    script = healthy_script()
    assert script.tool_steps >= 50
    assert _fired(_run(script)) == {}


def test_stuck_same_call_same_result_steers_then_escalates() -> None:
    script = EventScript()
    for _ in range(5):
        script.shell("ls", "a.py\nb.py")
    brake = _run(script)
    assert [(iv.detector, iv.rung, iv.action) for iv in brake.interventions] == [
        ("stuck", 1, "steer"), ("stuck", 2, "stop")]
    assert "returned the same result 4 times" in brake.interventions[0].reason
    assert "Repeating the same action" in brake.interventions[0].message


def test_stuck_same_failing_call() -> None:
    script = EventScript()
    for _ in range(3):
        script.call("read_file", error="Tool error (read_file): no such file: x.py", file_path="x.py")
    assert "failed 3 times in a row: Tool error (read_file)" in _fired(_run(script))["stuck"]


def test_stuck_alternation_and_monologue() -> None:
    script = EventScript()
    for _ in range(3):
        script.read("a.py").read("b.py")
    assert "alternating between `read_file` and `read_file`" in _fired(_run(script))["stuck"]
    talk = EventScript().text("I think").text("Let me think more").text("Still thinking")
    assert "3 assistant messages in a row" in _fired(_run(talk))["stuck"]


def test_thresholds_are_overridable() -> None:
    script = EventScript()
    for _ in range(5):
        script.shell("ls", "same")
    relaxed = BrakeConfig.model_validate({"stuck": {"same_result": 6}})
    assert _fired(_run(script, relaxed)) == {}
    off = BrakeConfig.model_validate({"detectors": {"stuck": False}})
    assert _fired(_run(script, off)) == {}


def test_thrash_file_returning_to_earlier_versions() -> None:
    script = EventScript()
    for content in ("v1", "v2", "v1", "v2"):
        script.write("src/app.py", content)
    assert "src/app.py returned to an earlier version 2 times" in _fired(_run(script))["thrash"]


def test_thrash_edits_that_undo_each_other() -> None:
    script = EventScript()  # the file's full content is never seen: only the edits tell
    script.edit("src/app.py", "x = 1", "x = 2").edit("src/app.py", "x = 2", "x = 1")
    script.edit("src/app.py", "x = 1", "x = 2")
    assert _fired(_run(script))["thrash"] == "edits to src/app.py undid earlier edits 2 times"


def test_plateau_over_k_test_runs() -> None:
    script = EventScript()
    for i in range(6):
        script.edit("src/app.py", f"# v{i}\n", f"# v{i + 1}\n").shell("pytest", pytest_output(3, 2))
    fired = _fired(_run(script))
    assert "5 test runs without improving on 3/5 passing" in fired["plateau"]


def test_growth_without_progress() -> None:
    script = EventScript()
    script.shell("pytest", pytest_output(2, 3))
    for i in range(3):
        script.write(f"src/extra{i}.py", "x = 1\n" * 120).shell("pytest", pytest_output(2, 3))
    fired = _fired(_run(script, BrakeConfig.model_validate({"plateau": {"runs": 10}})))
    assert fired["growth"] == "360 lines added over 3 test runs while passing tests stayed at 2"


@pytest.mark.parametrize(("build", "expected"), [
    (lambda s: s.edit("tests/test_app.py", "assert x == 2", "assert True"), "a test the agent did not write"),
    (lambda s: s.write("scenarios/login.yaml", "x"), "protected path scenarios/login.yaml"),
    (lambda s: s.edit(".github/workflows/ci.yml", "pytest", "true"),
     "protected path .github/workflows/ci.yml"),
    (lambda s: s.write("tests/test_new.py", "def test_a():\n    x = 1\n"), "assert nothing: test_a"),
    (lambda s: s.write("tests/test_new.py", "@pytest.mark.skip\ndef test_a():\n    assert 0\n"),
     "writes skipped tests"),
    (lambda s: s.shell("rm tests/test_app.py"), "deletes test file tests/test_app.py"),
    (lambda s: s.shell("sed -i 's/assert/#/' tests/test_app.py"), "a test the agent did not write"),
    (lambda s: s.edit("tests/test_mine.py", "def test_b():", "@pytest.mark.skip\ndef test_b():"),
     "skips tests in tests/test_mine.py"),
])
def test_gaming(build: Any, expected: str) -> None:
    script = EventScript()
    build(script)
    assert expected in _fired(_run(script))["gaming"]


def test_gaming_sees_absolute_paths_inside_the_workspace() -> None:
    brake = Brake(POLICY, workspace="/ws/project", exists=lambda path: True)
    found = brake.judge_intent("c1", "write_file", {"file_path": "/ws/project/scenarios/a.yaml",
                                                    "content": "x"})
    assert found and "protected path scenarios/a.yaml" in found[0].reason
    found = brake.judge_intent("c2", "edit_file", {"file_path": "/ws/project/tests/test_a.py",
                                                   "old_string": "a", "new_string": "b"})
    assert found and "tests/test_a.py, a test the agent did not write" in found[0].reason


def test_gaming_allows_the_agents_own_asserting_tests() -> None:
    script = EventScript().write("tests/test_new.py", "def test_a():\n    assert 1 + 1 == 2\n")
    script.edit("tests/test_new.py", "== 2", "== 2  # arithmetic")
    assert _fired(_run(script)) == {}


def test_gaming_live_knows_which_tests_existed() -> None:
    exists = {"tests/test_old.py"}.__contains__
    brake = Brake(POLICY, exists=exists)
    assert brake.judge_intent("c1", "write_file", {"file_path": "tests/test_old.py",
                                                   "content": "def test_x():\n    assert 1\n"})
    assert not brake.judge_intent("c2", "write_file", {"file_path": "tests/test_new.py",
                                                       "content": "def test_x():\n    assert 1\n"})


def test_destructive_commands_are_judged_against_policy() -> None:
    brake = Brake(POLICY, workspace="/ws")
    first = brake.judge_intent("c1", "shell", {"command": "rm -rf /"})
    assert first[0].detector == "destructive" and first[0].action == "steer"
    assert "outside the workspace" in first[0].reason
    assert not brake.judge_intent("c2", "shell", {"command": "rm -rf build"})
    second = brake.judge_intent("c3", "shell", {"command": "git push --force"})
    assert second[0].action == "stop" and second[0].rung == 2


def test_every_rung_is_emitted_as_an_event() -> None:
    emitted: list[tuple[str, dict[str, Any]]] = []
    script = EventScript()
    for _ in range(5):
        script.shell("ls", "same")
    _run(script, emit=lambda kind, data: emitted.append((kind, data)))
    assert [k for k, _ in emitted] == ["brake.steer", "brake.escalate"]
    assert emitted[0][1]["detector"] == "stuck" and emitted[1][1]["action"] == "stop"


def test_pause_escalation_is_configurable() -> None:
    script = EventScript()
    for _ in range(5):
        script.shell("ls", "same")
    brake = _run(script, BrakeConfig(escalation="pause"))
    assert brake.interventions[-1].action == "pause"


@pytest.mark.parametrize(("output", "passed", "failed"), [
    ("==== 3 failed, 7 passed, 1 error in 0.5s ====", 7, 4),
    ("== 12 passed in 1.01s ==", 12, 0),
    ("Tests:       2 failed, 5 passed, 7 total", 5, 2),
    ("test result: FAILED. 4 passed; 1 failed; 0 ignored", 4, 1),
    ("Ran 5 tests in 0.001s\n\nFAILED (failures=2)", 3, 2),
    ("--- PASS: TestA\n--- FAIL: TestB\nFAIL", 1, 1),
])
def test_test_counts_from_common_runners(output: str, passed: int, failed: int) -> None:
    counts = parse_test_counts(output)
    assert counts is not None and (counts.passed, counts.failed) == (passed, failed)
    assert parse_test_counts("hello world") is None


def test_empty_tests_understands_pytest_raises_and_unittest() -> None:
    src = ("import pytest\n\ndef test_raises():\n    with pytest.raises(ValueError):\n        int('x')\n\n"
           "class T:\n    def test_eq(self):\n        self.assertEqual(1, 1)\n\n"
           "def test_nothing():\n    pass\n")
    assert empty_tests("tests/test_x.py", src) == ["test_nothing"]
