"""Budgets as LLM client middleware, against the scripted provider server over real HTTP."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path
from typing import Any

import pytest

from shopfloor.agent.session import SessionResult
from shopfloor.config import ProjectFile
from shopfloor.govern.budget import Budget, BudgetExceeded
from shopfloor.govern.governor import SessionGovernor
from shopfloor.govern.llm_budget import budget_middleware
from shopfloor.govern.policy import BudgetLimits, load_policy
from shopfloor.llm.client import Client
from shopfloor.llm.errors import NoObjectGeneratedError, SDKError
from shopfloor.llm.structured import generate_object
from shopfloor.llm.types import Message, Request, StreamEventType
from tests.support.agent import make_harness
from tests.support.llm_server import Fail, Reply, ScriptedLLMServer, ToolUse, llm_server  # noqa: F401

MODEL = "claude-sonnet-4-5"


def _client(server: ScriptedLLMServer, budget: Budget) -> Client:
    return Client.from_env(server.env(), middleware=[budget_middleware(budget)])


def _request(max_tokens: int = 1000) -> Request:
    return Request(model=MODEL, provider="anthropic", messages=[Message.user("hello " * 40)],
                   max_tokens=max_tokens)


def test_settles_on_actual_usage(llm_server: ScriptedLLMServer) -> None:  # noqa: F811
    budget = Budget("run", BudgetLimits(usd=5.0))
    llm_server.push(Reply(text="hi", input_tokens=1200, output_tokens=300))
    response = _client(llm_server, budget).complete(_request())
    spent = budget.spent()
    assert response.cost_usd > 0
    assert spent["usd"] == pytest.approx(response.cost_usd) and spent["tokens"] == 1500
    assert spent["reserved_usd"] == 0 and spent["llm_calls"] == 1


def test_refuses_before_sending_when_the_worst_case_does_not_fit(llm_server: ScriptedLLMServer) -> None:  # noqa: F811
    budget = Budget("run", BudgetLimits(usd=0.01))  # 1000 output tokens at $15/M alone is $0.015
    llm_server.push(Reply(text="never sent"))
    with pytest.raises(BudgetExceeded) as info:
        _client(llm_server, budget).complete(_request())
    assert "run usd limit $0.0100" in str(info.value) and info.value.retryable is False
    assert llm_server.requests == []
    assert budget.spent()["usd"] == 0


def test_failed_calls_still_count(llm_server: ScriptedLLMServer) -> None:  # noqa: F811
    budget = Budget("run", BudgetLimits(usd=5.0))
    llm_server.push(Fail(500, "overloaded"))
    with pytest.raises(SDKError):
        _client(llm_server, budget).complete(_request())
    spent = budget.spent()
    assert spent["failed_calls"] == 1 and spent["usd"] > 0 and spent["tokens"] > 0
    assert spent["reserved_usd"] == 0


def test_unparseable_structured_output_still_counts(llm_server: ScriptedLLMServer) -> None:  # noqa: F811
    budget = Budget("run", BudgetLimits(usd=5.0))
    llm_server.push(Reply(text="this is not JSON", input_tokens=500, output_tokens=50))
    with pytest.raises(NoObjectGeneratedError):
        generate_object(MODEL, "give me an object", schema={"type": "object"}, provider="anthropic",
                        max_tokens=100, client=_client(llm_server, budget))
    spent = budget.spent()
    assert spent["llm_calls"] == 1 and spent["tokens"] == 550 and spent["usd"] > 0


def test_streams_are_reserved_and_settled(llm_server: ScriptedLLMServer) -> None:  # noqa: F811
    budget = Budget("run", BudgetLimits(usd=5.0))
    session = budget.child("session")
    llm_server.push(Reply(text="streamed text", input_tokens=100, output_tokens=20))
    events = list(_client(llm_server, session).stream(_request()))
    final = next(e.response for e in events if e.type == StreamEventType.FINISH)
    assert final is not None
    assert budget.spent()["usd"] == pytest.approx(final.cost_usd) and budget.spent()["tokens"] == 120


def test_twenty_real_sessions_share_one_budget(tmp_path: Path) -> None:
    """20 agent Sessions in 20 threads, one run budget: every sent call is charged, none overspends."""
    limit = 12.0
    run = Budget("run", BudgetLimits(usd=limit))
    policy = load_policy(ProjectFile(None, {}))
    counter = itertools.count()
    with ScriptedLLMServer() as server:
        def model(_: object) -> Reply:  # ~$0.09 a call
            return Reply(tool_calls=[ToolUse("shell", {"command": f"echo {next(counter)}"})],
                         input_tokens=20_000, output_tokens=2_000)

        server.default = model
        results: list[SessionResult] = []
        reservations: list[float] = []

        def agent(i: int) -> None:
            (tmp_path / f"a{i}").mkdir()
            harness = make_harness("anthropic", server, tmp_path / f"a{i}")
            session = harness.session()
            SessionGovernor(policy, run.child(f"session-{i}")).attach(session)
            original = session.client.middleware.hook.reserve

            def reserve(request: Any, estimate: float) -> Any:
                reservations.append(estimate)
                return original(request, estimate)

            session.client.middleware.hook.reserve = reserve
            results.append(session.submit("work until the money runs out"))
            harness.client.close()

        threads = [threading.Thread(target=agent, args=(i,)) for i in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        server.default = None
    spent = run.spent()
    assert len(results) == 20 and all(r.status == "aborted" and "budget exceeded" in (r.error or "")
                                      for r in results)
    assert spent["reserved_usd"] == pytest.approx(0, abs=1e-9)
    assert spent["llm_calls"] == len(server.requests) > 20  # every call that went out was charged
    assert spent["usd"] <= limit  # at most one reservation over is the promise; real usage stays under
    assert spent["usd"] > limit - 2 * max(reservations)  # and the budget was really used, not refused early
