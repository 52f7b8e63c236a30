"""Every detector stops a scripted runaway agent end to end: real Session, real tools, real HTTP.

The scripted provider server plays a model that never stops on its own
(`server.default` answers every request); the governor must stop it. Healthy
work of 50+ tool steps must run to completion without a single brake event.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

from shopfloor.govern.brake.config import BrakeConfig
from shopfloor.govern.policy import BudgetLimits
from tests.support.agent import AgentHarness, anthropic_agent, shared_llm_server  # noqa: F401 (fixtures)
from tests.support.governed import Governed, governed
from tests.support.llm_server import RecordedRequest, Reply, ToolUse
from tests.support.runaways import RUN_TESTS, RUNAWAYS, TEST_FILE, calc_project, calls, forever, shell


def _stopped_by(gov: Governed, detector: str) -> None:
    assert gov.governor.stop_reason is not None, "the runaway was never stopped"
    assert gov.governor.stop_reason.startswith(f"brake: {detector}:"), gov.governor.stop_reason
    rungs = gov.rungs()
    assert rungs[0] == ("brake.steer", detector, "steer")
    assert rungs[-1] == ("brake.escalate", detector, "stop")


def test_stuck_same_call_same_result(anthropic_agent: AgentHarness) -> None:  # noqa: F811
    gov = governed(anthropic_agent)
    anthropic_agent.server.default = RUNAWAYS["same-result"].model()
    result = gov.run("tidy the project")
    _stopped_by(gov, "stuck")
    assert result.status == "aborted" and "same result 4 times" in (result.error or "")
    assert gov.llm_calls == 5  # 4th repeat steers, the 5th escalates
    steering = [e for e in anthropic_agent.events if e.kind.value == "steering_injected"]
    assert any("[shopfloor brake: stuck]" in e.data["content"] for e in steering)


def test_stuck_same_failing_call(anthropic_agent: AgentHarness) -> None:  # noqa: F811
    gov = governed(anthropic_agent)
    anthropic_agent.server.default = RUNAWAYS["same-error"].model()
    gov.run("read nope.py")
    _stopped_by(gov, "stuck")
    assert "failed 3 times in a row" in (gov.governor.stop_reason or "")
    assert gov.llm_calls == 4


def test_stuck_alternation(anthropic_agent: AgentHarness) -> None:  # noqa: F811
    calc_project(anthropic_agent.workspace)
    gov = governed(anthropic_agent)
    anthropic_agent.server.default = RUNAWAYS["alternation"].model()
    gov.run("understand the project")
    _stopped_by(gov, "stuck")
    assert "alternating" in (gov.governor.stop_reason or "") and gov.llm_calls == 7


def test_stuck_monologue(anthropic_agent: AgentHarness) -> None:  # noqa: F811
    gov = governed(anthropic_agent)
    anthropic_agent.server.default = RUNAWAYS["monologue"].model()
    gov.run("fix the bug")
    _stopped_by(gov, "stuck")
    assert "assistant messages in a row without using a tool" in (gov.governor.stop_reason or "")
    assert gov.llm_calls == 4


def test_thrash(anthropic_agent: AgentHarness) -> None:  # noqa: F811
    gov = governed(anthropic_agent)
    anthropic_agent.server.default = RUNAWAYS["thrash"].model()
    gov.run("pick a mode")
    _stopped_by(gov, "thrash")
    assert gov.llm_calls == 5
    states = [d for k, d in gov.emitted if k == "govern.file_state"]
    assert len(states) == 5 and states[0]["sha256"] == states[2]["sha256"] != states[1]["sha256"]


def test_plateau(anthropic_agent: AgentHarness) -> None:  # noqa: F811
    calc_project(anthropic_agent.workspace)
    gov = governed(anthropic_agent)
    anthropic_agent.server.default = RUNAWAYS["plateau"].model()
    gov.run("make the tests pass")
    _stopped_by(gov, "plateau")
    steer = next(data for kind, data in gov.emitted if kind == "brake.steer")
    assert steer["reason"] == "5 test runs without improving on 0/4 passing (now 0/4)"
    assert gov.llm_calls == 14  # 7 writes, 7 test runs: the 6th run steers, the 7th escalates


def test_growth_without_progress(anthropic_agent: AgentHarness) -> None:  # noqa: F811
    calc_project(anthropic_agent.workspace)
    gov = governed(anthropic_agent)
    anthropic_agent.server.default = RUNAWAYS["growth"].model()
    gov.run("make the tests pass")
    _stopped_by(gov, "growth")
    assert "lines added over" in (gov.governor.stop_reason or "")


def test_gaming_is_blocked_before_it_changes_anything(anthropic_agent: AgentHarness) -> None:  # noqa: F811
    calc_project(anthropic_agent.workspace)
    gov = governed(anthropic_agent)
    anthropic_agent.server.default = RUNAWAYS["gaming"].model()
    gov.run("make the tests pass")
    _stopped_by(gov, "gaming")
    assert (anthropic_agent.workspace / "tests" / "test_calc.py").read_text() == TEST_FILE
    assert not (anthropic_agent.workspace / "scenarios").exists()
    ends = [e.data.get("error", "") for e in anthropic_agent.events if e.kind.value == "tool_call_end"]
    assert all(msg.startswith("Tool call blocked: gaming:") for msg in ends)


def test_destructive_commands_are_blocked(anthropic_agent: AgentHarness, tmp_path: Path) -> None:  # noqa: F811
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "data.txt").write_text("keep me")
    gov = governed(anthropic_agent)
    anthropic_agent.server.default = RUNAWAYS["destructive"].model()
    gov.run("clean up")
    _stopped_by(gov, "destructive")
    assert (precious / "data.txt").read_text() == "keep me"
    assert oct((precious).stat().st_mode & 0o777) != oct(0o777)
    assert gov.llm_calls == 2


def test_pause_escalation_asks_a_human(anthropic_agent: AgentHarness) -> None:  # noqa: F811
    asked = []

    def human(iv: object) -> bool:
        asked.append(iv)
        return len(asked) < 2  # let it go on once, then stop it

    gov = governed(anthropic_agent, brake=BrakeConfig(escalation="pause"), ask_human=human)
    anthropic_agent.server.default = forever(lambda n: calls(shell("ls")))
    gov.run("tidy")
    assert len(asked) == 2 and gov.governor.stop_reason is not None
    assert ("govern.brake_resumed" in [k for k, _ in gov.emitted]) and gov.llm_calls == 6


def test_budget_exhaustion_stops_the_session_cleanly(anthropic_agent: AgentHarness) -> None:  # noqa: F811
    # Each call reserves its worst case (~$1: the model's 64k max output at $15/M) and costs ~$0.09.
    no_stuck = BrakeConfig(detectors={"stuck": False})
    gov = governed(anthropic_agent, limits=BudgetLimits(usd=1.5), brake=no_stuck)
    anthropic_agent.server.default = forever(
        lambda n: Reply(tool_calls=[shell(f"echo step {n}")], input_tokens=20_000, output_tokens=2_000))
    result = gov.run("work")
    assert result.status == "aborted" and "budget exceeded: run" in (result.error or "")
    spent = gov.budget.spent()
    assert 1.5 - 1.0 < spent["usd"] <= 1.5 and spent["reserved_usd"] == 0
    assert gov.llm_calls == spent["llm_calls"] >= 2
    assert anthropic_agent.events[-1].kind.value == "session_end"
    assert [k for k, _ in gov.emitted].count("govern.budget_exceeded") == 1


def test_tool_call_budget(anthropic_agent: AgentHarness) -> None:  # noqa: F811
    gov = governed(anthropic_agent, limits=BudgetLimits(usd=5, tool_calls=3))
    anthropic_agent.server.default = forever(lambda n: calls(shell(f"echo {n}")))
    result = gov.run("work")
    assert result.status == "aborted" and "tool_calls limit 3" in (result.error or "")
    assert gov.budget.spent()["tool_calls"] == 3


def test_healthy_trajectory_has_no_false_positives(anthropic_agent: AgentHarness) -> None:  # noqa: F811
    modules = 13
    work = anthropic_agent.workspace
    (work / "src").mkdir()
    (work / "tests").mkdir()
    gov = governed(anthropic_agent)
    replies = [calls(shell("ls"))]
    for i in range(modules):
        body = "".join(f"def f{j}(x):\n    return x + {j}\n\n" for j in range(5))
        test = f"import unittest\n\nfrom mod{i} import f1\n\n\nclass T(unittest.TestCase):\n" \
               f"    def test_f1(self):\n        self.assertEqual(f1({i}), {i + 1})\n"
        replies += [calls(ToolUse("write_file", {"file_path": f"src/mod{i}.py", "content": body})),
                    calls(ToolUse("write_file", {"file_path": f"tests/test_mod{i}.py", "content": test})),
                    calls(shell(RUN_TESTS)),
                    calls(ToolUse("read_file", {"file_path": f"src/mod{i}.py"}))]
    replies.append(Reply(text="All modules are implemented and tested."))
    anthropic_agent.server.push(*replies)
    result = gov.session.submit("implement the modules with tests")
    assert result.status == "completed" and result.tool_rounds >= 50
    assert gov.rungs() == [] and gov.governor.stop_reason is None
    runs = [e.data["output"] for e in anthropic_agent.events
            if e.kind.value == "tool_call_end" and "Ran " in e.data.get("output", "")]
    assert len(runs) == modules and f"Ran {modules} tests" in runs[-1] and "OK" in runs[-1]


def test_subagents_get_their_own_budget_level(anthropic_agent: AgentHarness) -> None:  # noqa: F811
    gov = governed(anthropic_agent, limits=BudgetLimits(usd=20), subagent_limits=BudgetLimits(usd=1.5),
                   brake=BrakeConfig(detectors={"stuck": False}))
    counter = itertools.count()

    def model(req: RecordedRequest) -> Reply:
        messages = req.body["messages"]
        if "CHILD-TASK" in json.dumps(messages[0]):  # the subagent: burns ~$0.3 a call, forever
            return Reply(tool_calls=[shell(f"echo {next(counter)}")], input_tokens=50_000,
                         output_tokens=10_000)
        turns = sum(1 for m in messages if m["role"] == "assistant")
        if turns == 0:
            return calls(ToolUse("spawn_agent", {"task": "CHILD-TASK: count for ever"}))
        if turns == 1:
            return calls(ToolUse("wait", {"agent_id": anthropic_agent.spawned_agent_id(req)}))
        return Reply(text="The helper ran out of budget; stopping here.")

    anthropic_agent.server.default = model
    result = gov.session.submit("delegate the counting")
    assert result.status == "completed" and gov.governor.stop_reason is None
    exceeded = [d for k, d in gov.emitted if k == "govern.budget_exceeded"]
    assert len(exceeded) == 1 and exceeded[0]["level"].startswith("run/session/subagent-")
    child_calls = sum(1 for r in anthropic_agent.server.requests
                      if "CHILD-TASK" in json.dumps(r.body["messages"][0]))
    spent = gov.budget.spent()
    assert child_calls >= 1 and 0.3 * child_calls <= spent["usd"] <= 1.5 + 0.1  # the parent's calls are tiny
