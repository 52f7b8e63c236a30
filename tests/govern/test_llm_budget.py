"""Budgets as LLM client middleware, against the scripted provider server over real HTTP."""

from __future__ import annotations

import pytest

from shopfloor.govern.budget import Budget, BudgetExceeded
from shopfloor.govern.llm_budget import budget_middleware
from shopfloor.govern.policy import BudgetLimits
from shopfloor.llm.client import Client
from shopfloor.llm.errors import SDKError
from shopfloor.llm.types import Message, Request, StreamEventType
from tests.support.llm_server import Fail, Reply, ScriptedLLMServer, llm_server  # noqa: F401

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


def test_streams_are_reserved_and_settled(llm_server: ScriptedLLMServer) -> None:  # noqa: F811
    budget = Budget("run", BudgetLimits(usd=5.0))
    session = budget.child("session")
    llm_server.push(Reply(text="streamed text", input_tokens=100, output_tokens=20))
    events = list(_client(llm_server, session).stream(_request()))
    final = next(e.response for e in events if e.type == StreamEventType.FINISH)
    assert final is not None
    assert budget.spent()["usd"] == pytest.approx(final.cost_usd) and budget.spent()["tokens"] == 120
