"""The hooks other layers use (issue 3): a budget that refuses before sending and settles after,
tracing with OpenTelemetry gen_ai spans, and plain callbacks — for complete and stream."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from shopfloor.llm import BudgetMiddleware, CallbackMiddleware, Client, Message, Request, TracingMiddleware
from shopfloor.llm.errors import AuthenticationError, BudgetExceededError
from shopfloor.llm.types import StreamEventType, Usage
from tests.support.llm_server import Fail, Reply, ScriptedLLMServer


class Budget:
    """A minimal BudgetHook: a USD limit, reserve-then-settle."""

    def __init__(self, limit: float) -> None:
        self.limit, self.spent, self.held = limit, 0.0, 0.0
        self.settled: list[tuple[float, Usage | None]] = []

    def reserve(self, request: Request, estimated_cost_usd: float) -> float:
        if self.spent + self.held + estimated_cost_usd > self.limit:
            raise BudgetExceededError(
                f"{request.model}: ${estimated_cost_usd:.4f} would exceed ${self.limit}"
            )
        self.held += estimated_cost_usd
        return estimated_cost_usd

    def settle(self, reservation: float, cost_usd: float, usage: Usage | None) -> None:
        self.held -= reservation
        self.spent += cost_usd
        self.settled.append((cost_usd, usage))


def _request(model: str = "claude-opus-4-6", text: str = "hi", max_tokens: int = 100) -> Request:
    return Request(model=model, messages=[Message.user(text)], max_tokens=max_tokens)


def test_budget_refuses_before_anything_is_sent(llm_server: ScriptedLLMServer) -> None:
    budget = Budget(limit=0.0001)
    client = Client.from_env(llm_server.env(), middleware=[BudgetMiddleware(budget)])
    with pytest.raises(BudgetExceededError):
        client.complete(_request(max_tokens=10_000))
    with pytest.raises(BudgetExceededError):
        list(client.stream(_request(max_tokens=10_000)))
    assert llm_server.requests == [] and budget.spent == 0 and budget.held == 0


def test_budget_settles_the_actual_cost(llm_server: ScriptedLLMServer) -> None:
    budget = Budget(limit=10)
    client = Client.from_env(llm_server.env(), middleware=[BudgetMiddleware(budget)])
    llm_server.push(Reply(text="x", input_tokens=1000, output_tokens=100), Reply(text="y", output_tokens=50))
    response = client.complete(_request())
    events = list(client.stream(_request()))
    streamed = events[-1].response
    assert streamed is not None
    assert [c for c, _ in budget.settled] == pytest.approx([response.cost_usd, streamed.cost_usd])
    assert budget.settled[0][1] == response.usage and budget.held == pytest.approx(0)
    assert budget.spent == pytest.approx(response.cost_usd + streamed.cost_usd)


def test_budget_releases_the_reservation_when_the_call_fails(llm_server: ScriptedLLMServer) -> None:
    budget = Budget(limit=10)
    client = Client.from_env(llm_server.env(), middleware=[BudgetMiddleware(budget)])
    llm_server.push(Fail(401))
    with pytest.raises(AuthenticationError):
        client.complete(_request())
    assert budget.settled == [(0.0, None)] and budget.held == pytest.approx(0)


@pytest.fixture
def spans() -> tuple[Any, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("test"), exporter


def test_tracing_spans_follow_the_gen_ai_conventions(llm_server: ScriptedLLMServer, spans: Any) -> None:
    tracer, exporter = spans
    client = Client.from_env(llm_server.env(), middleware=[TracingMiddleware(tracer)])
    llm_server.push(Reply(text="x", input_tokens=40, output_tokens=9, cache_read_tokens=30))
    response = client.complete(
        Request(model="gpt-5.2", messages=[Message.user("hi")], max_tokens=64, temperature=0.5)
    )
    (span,) = exporter.get_finished_spans()
    attrs = dict(span.attributes or {})
    assert span.name == "chat gpt-5.2"
    assert attrs["gen_ai.operation.name"] == "chat" and attrs["gen_ai.provider.name"] == "openai"
    assert attrs["gen_ai.request.model"] == "gpt-5.2" and attrs["gen_ai.request.max_tokens"] == 64
    assert attrs["gen_ai.request.temperature"] == 0.5
    assert attrs["gen_ai.response.id"] == response.id and attrs["gen_ai.response.model"] == "gpt-5.2"
    assert attrs["gen_ai.response.finish_reasons"] == ("stop",)
    assert (attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"]) == (40, 9)
    assert attrs["shopfloor.llm.usage.cache_read_tokens"] == 30
    assert attrs["shopfloor.llm.cost_usd"] == pytest.approx(response.cost_usd)


def test_tracing_streams_and_errors(llm_server: ScriptedLLMServer, spans: Any) -> None:
    tracer, exporter = spans
    client = Client.from_env(llm_server.env(), middleware=[TracingMiddleware(tracer)])
    llm_server.push(
        Reply(text="streamed", output_tokens=3), Fail(401), Reply(text="abcdef", chunk_size=1, drop_after=5)
    )
    list(client.stream(_request("gemini-3-flash-preview")))
    with pytest.raises(AuthenticationError):
        client.complete(_request("gemini-3-flash-preview"))
    events = list(client.stream(_request("gemini-3-flash-preview")))
    assert events[-1].type == StreamEventType.ERROR
    ok, auth, broken = exporter.get_finished_spans()
    assert ok.attributes["gen_ai.usage.output_tokens"] == 3 and ok.status.status_code != StatusCode.ERROR
    assert (
        auth.status.status_code == StatusCode.ERROR and auth.attributes["error.type"] == "AuthenticationError"
    )
    assert broken.status.status_code == StatusCode.ERROR and broken.attributes["error.type"] == "StreamError"


def test_callbacks_see_request_response_and_errors(llm_server: ScriptedLLMServer) -> None:
    seen: list[Any] = []
    hook = CallbackMiddleware(
        on_request=lambda r: seen.append(("request", r.provider)),
        on_response=lambda r, resp, s: seen.append(("response", resp.usage.total_tokens)),
        on_error=lambda r, e: seen.append(("error", type(e).__name__)),
    )
    client = Client.from_env(llm_server.env(), middleware=[hook])
    llm_server.push(Reply(text="a", input_tokens=3, output_tokens=2), Fail(500), Reply(text="b"))
    client.complete(_request())
    with pytest.raises(Exception, match="500"):
        client.complete(_request())
    list(client.stream(_request()))
    assert seen == [
        ("request", "anthropic"),
        ("response", 5),
        ("request", "anthropic"),
        ("error", "ServerError"),
        ("request", "anthropic"),
        ("response", 15),
    ]
