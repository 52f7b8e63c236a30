"""The high-level generate() (spec 4.3 / 5 / 6.6, DoD 8.4 / 8.7 / 8.8): prompts, the tool loop,
parallel tools, validation and repair, retries, cancellation and timeouts."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from shopfloor.llm import AbortController, Message, RetryPolicy, Tool, generate, stream
from shopfloor.llm.errors import (
    AbortError,
    AuthenticationError,
    ConfigurationError,
    RateLimitError,
    RequestTimeoutError,
    ServerError,
)
from shopfloor.llm.types import TimeoutConfig, ToolCall
from tests.support.llm_server import Fail, Reply, ScriptedLLMServer, ToolUse

FAST = RetryPolicy(max_retries=2, base_delay=0.01, jitter=False)
CITY = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


def weather(calls: list[str] | None = None, delay: float = 0.0) -> Tool:
    def get_weather(city: str) -> str:
        if calls is not None:
            calls.append(city)
        time.sleep(delay)
        return f"sunny in {city}"

    return Tool(name="get_weather", description="Weather for a city", parameters=CITY, execute=get_weather)


def _outputs(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [i for i in body["input"] if i.get("type") == "function_call_output"]


def test_simple_prompt_and_system(llm_env: ScriptedLLMServer) -> None:
    llm_env.push(Reply(text="Hello!"))
    result = generate("claude-opus-4-6", "Say hello", system="Be kind.", max_tokens=100)
    assert result.text == "Hello!" and len(result.steps) == 1
    assert llm_env.last.body["system"][0]["text"] == "Be kind."
    assert llm_env.last.body["messages"][0]["content"][0]["text"] == "Say hello"


def test_full_message_list(llm_env: ScriptedLLMServer) -> None:
    llm_env.push(Reply(text="4"))
    history = [Message.user("2+2?"), Message.assistant("Let me see."), Message.user("Well?")]
    assert generate("gpt-5.2", messages=history).text == "4"
    assert [i["role"] for i in llm_env.last.body["input"]] == ["user", "assistant", "user"]


def test_prompt_and_messages_together_are_rejected(llm_env: ScriptedLLMServer) -> None:
    with pytest.raises(ConfigurationError, match="not both"):
        generate("gpt-5.2", "hi", messages=[Message.user("hi")])
    assert llm_env.requests == []


def test_active_tools_loop_until_the_model_answers(llm_env: ScriptedLLMServer) -> None:
    calls: list[str] = []
    llm_env.push(
        Reply(tool_calls=[ToolUse("get_weather", {"city": "Rome"})], input_tokens=10, output_tokens=3),
        Reply(text="Sunny in Rome.", input_tokens=30, output_tokens=4),
    )
    result = generate("gpt-5.2", "Weather in Rome?", tools=[weather(calls)], max_tool_rounds=3)
    assert calls == ["Rome"] and result.text == "Sunny in Rome."
    assert len(result.steps) == 2
    assert (
        result.steps[0].tool_results[0].content == "sunny in Rome"
        and not result.steps[0].tool_results[0].is_error
    )
    assert result.total_usage.input_tokens == 40 and result.usage.input_tokens == 30
    assert result.cost_usd == pytest.approx(result.steps[0].usage.cost_usd + result.steps[1].usage.cost_usd)
    second = llm_env.requests[1].body["input"]
    assert second[-2]["type"] == "function_call" and second[-1]["output"] == "sunny in Rome"


def test_passive_tools_return_the_calls_to_the_caller(llm_env: ScriptedLLMServer) -> None:
    passive = Tool(name="get_weather", parameters=CITY)
    llm_env.push(Reply(tool_calls=[ToolUse("get_weather", {"city": "Oslo"})]))
    result = generate("gpt-5.2", "Weather?", tools=[passive], max_tool_rounds=5)
    assert [c.arguments for c in result.tool_calls] == [{"city": "Oslo"}] and result.tool_results == []
    assert len(llm_env.requests) == 1


def test_max_tool_rounds_is_respected(llm_env: ScriptedLLMServer) -> None:
    calls: list[str] = []
    llm_env.default = Reply(tool_calls=[ToolUse("get_weather", {"city": "Lima"})])
    result = generate("gpt-5.2", "loop", tools=[weather(calls)], max_tool_rounds=2)
    assert len(llm_env.requests) == 3 and calls == ["Lima", "Lima"]
    assert result.steps[-1].tool_calls and result.steps[-1].tool_results == []


def test_zero_tool_rounds_disables_execution(llm_env: ScriptedLLMServer) -> None:
    calls: list[str] = []
    llm_env.push(Reply(tool_calls=[ToolUse("get_weather", {"city": "Lima"})]))
    result = generate("gpt-5.2", "x", tools=[weather(calls)], max_tool_rounds=0)
    assert calls == [] and len(result.tool_calls) == 1 and len(llm_env.requests) == 1


def test_parallel_tool_calls_run_concurrently_and_return_in_one_request(llm_env: ScriptedLLMServer) -> None:
    barrier = threading.Barrier(3, timeout=5)  # only passes if all three handlers run at once

    def get_weather(city: str) -> str:
        barrier.wait()
        time.sleep(0.05 if city == "A" else 0)  # finish out of order
        return f"weather {city}"

    tool = Tool(name="get_weather", parameters=CITY, execute=get_weather)
    llm_env.push(Reply(tool_calls=[ToolUse("get_weather", {"city": c}) for c in "ABC"]), Reply(text="done"))
    result = generate("gpt-5.2", "three cities", tools=[tool], max_tool_rounds=1)
    assert [r.content for r in result.steps[0].tool_results] == ["weather A", "weather B", "weather C"]
    assert not any(r.is_error for r in result.steps[0].tool_results)
    outputs = _outputs(llm_env.requests[1].body)
    assert [o["output"] for o in outputs] == ["weather A", "weather B", "weather C"]
    assert [o["call_id"] for o in outputs] == [c.id for c in result.steps[0].tool_calls]
    assert len(llm_env.requests) == 2


def test_tool_failures_and_unknown_tools_become_error_results(llm_env: ScriptedLLMServer) -> None:
    def explode(city: str) -> str:
        raise RuntimeError(f"no data for {city}")

    tool = Tool(name="get_weather", parameters=CITY, execute=explode)
    llm_env.push(
        Reply(tool_calls=[ToolUse("get_weather", {"city": "X"}), ToolUse("teleport", {})]),
        Reply(text="sorry"),
    )
    result = generate("gpt-5.2", "x", tools=[tool])
    first, second = result.steps[0].tool_results
    assert first.is_error and "RuntimeError: no data for X" in str(first.content)
    assert second.is_error and "Unknown tool: teleport" in str(second.content)
    assert result.text == "sorry"
    assert len(_outputs(llm_env.requests[1].body)) == 2


def test_arguments_are_validated_before_the_handler_runs(llm_env: ScriptedLLMServer) -> None:
    calls: list[str] = []
    llm_env.push(Reply(tool_calls=[ToolUse("get_weather", {"town": "Paris"})]), Reply(text="ok"))
    result = generate("gpt-5.2", "x", tools=[weather(calls)])
    assert calls == []
    assert result.steps[0].tool_results[0].is_error
    assert "'city' is a required property" in str(result.steps[0].tool_results[0].content)


def test_invalid_arguments_can_be_repaired(llm_env: ScriptedLLMServer) -> None:
    calls: list[str] = []
    seen: list[str] = []

    def repair(call: ToolCall, tool: Tool, error: str) -> ToolCall | None:
        seen.append(error)
        return call.model_copy(update={"arguments": {"city": call.arguments["town"]}, "raw_arguments": None})

    llm_env.push(Reply(tool_calls=[ToolUse("get_weather", {"town": "Paris"})]), Reply(text="ok"))
    result = generate("gpt-5.2", "x", tools=[weather(calls)], repair_tool_call=repair)
    assert calls == ["Paris"] and not result.steps[0].tool_results[0].is_error and len(seen) == 1


def test_handlers_get_injected_context_and_may_be_async(llm_env: ScriptedLLMServer) -> None:
    seen: dict[str, Any] = {}

    async def lookup(city: str, tool_call_id: str, messages: list[Message]) -> dict[str, Any]:
        seen.update(id=tool_call_id, turns=len(messages))
        return {"city": city, "temp": 21}

    tool = Tool(name="lookup", parameters=CITY, execute=lookup)
    llm_env.push(Reply(tool_calls=[ToolUse("lookup", {"city": "Kyiv"}, id="call_fixed")]), Reply(text="ok"))
    result = generate("gpt-5.2", "x", tools=[tool])
    assert seen == {"id": "call_fixed", "turns": 1}
    assert result.steps[0].tool_results[0].content == {"city": "Kyiv", "temp": 21}


def test_stop_condition_ends_the_loop(llm_env: ScriptedLLMServer) -> None:
    llm_env.default = Reply(tool_calls=[ToolUse("get_weather", {"city": "Lima"})])
    result = generate(
        "gpt-5.2", "x", tools=[weather()], max_tool_rounds=5, stop_when=lambda steps: len(steps) >= 2
    )
    assert len(result.steps) == 2 and len(llm_env.requests) == 2


def test_rate_limits_are_retried_transparently_honouring_retry_after(llm_env: ScriptedLLMServer) -> None:
    delays: list[float] = []
    policy = RetryPolicy(max_retries=2, base_delay=5, jitter=False, on_retry=lambda e, n, d: delays.append(d))
    llm_env.push(Fail(429, retry_after=0.05), Reply(text="after the wait"))
    assert generate("gemini-3-flash-preview", "x", retry_policy=policy).text == "after the wait"
    assert delays == [0.05] and len(llm_env.requests) == 2


def test_max_retries_zero_disables_retries(llm_env: ScriptedLLMServer) -> None:
    llm_env.push(Fail(503), Reply(text="unused"))
    with pytest.raises(ServerError):
        generate("gpt-5.2", "x", max_retries=0)
    assert len(llm_env.requests) == 1


@pytest.mark.parametrize("status", [401, 403, 404])
def test_non_retryable_errors_are_raised_at_once(llm_env: ScriptedLLMServer, status: int) -> None:
    llm_env.push(Fail(status), Reply(text="unused"))
    with pytest.raises(AuthenticationError if status == 401 else Exception):
        generate("claude-opus-4-6", "x", retry_policy=FAST)
    assert len(llm_env.requests) == 1


def test_retry_after_beyond_max_delay_is_not_waited_for(llm_env: ScriptedLLMServer) -> None:
    llm_env.push(Fail(429, retry_after=120), Reply(text="unused"))
    started = time.monotonic()
    with pytest.raises(RateLimitError) as info:
        generate("gpt-5.2", "x", retry_policy=RetryPolicy(max_delay=60))
    assert info.value.retry_after == 120 and time.monotonic() - started < 5 and len(llm_env.requests) == 1


def test_retries_apply_per_step(llm_env: ScriptedLLMServer) -> None:
    calls: list[str] = []
    llm_env.push(Reply(tool_calls=[ToolUse("get_weather", {"city": "Quito"})]), Fail(500), Reply(text="done"))
    result = generate("gpt-5.2", "x", tools=[weather(calls)], retry_policy=FAST)
    assert result.text == "done" and calls == ["Quito"] and len(llm_env.requests) == 3
    assert len(_outputs(llm_env.requests[2].body)) == 1


def test_abort_cancels_an_in_flight_generate(llm_env: ScriptedLLMServer) -> None:
    llm_env.push(Reply(text="too late", delay=5))
    controller = AbortController()
    threading.Timer(0.2, controller.abort).start()
    started = time.monotonic()
    with pytest.raises(AbortError):
        generate("gpt-5.2", "x", abort_signal=controller.signal)
    assert time.monotonic() - started < 2


def test_abort_cancels_an_in_flight_stream(llm_env: ScriptedLLMServer) -> None:
    llm_env.push(Reply(text="abcdefghijkl", chunk_size=2, stall_after=4, stall_seconds=5))
    controller = AbortController()
    result = stream("claude-opus-4-6", "x", abort_signal=controller.signal)
    started = time.monotonic()
    with pytest.raises(AbortError):
        for event in result:
            if event.delta:
                threading.Timer(0.1, controller.abort).start()
    assert time.monotonic() - started < 2


def test_abort_before_the_call_sends_nothing(llm_env: ScriptedLLMServer) -> None:
    controller = AbortController()
    controller.abort()
    with pytest.raises(AbortError):
        generate("gpt-5.2", "x", abort_signal=controller.signal)
    assert llm_env.requests == []


def test_per_step_timeout(llm_env: ScriptedLLMServer) -> None:
    llm_env.push(Reply(text="slow", delay=2))
    started = time.monotonic()
    with pytest.raises(RequestTimeoutError):
        generate("gpt-5.2", "x", timeout=TimeoutConfig(per_step=0.3), max_retries=0)
    assert time.monotonic() - started < 1.5


def test_total_timeout_spans_all_steps(llm_env: ScriptedLLMServer) -> None:
    llm_env.push(Reply(tool_calls=[ToolUse("get_weather", {"city": "A"})]), Reply(text="never"))
    with pytest.raises(RequestTimeoutError):
        generate("gpt-5.2", "x", tools=[weather(delay=0.5)], timeout=0.3, max_retries=0)
    assert len(llm_env.requests) == 1


def test_backoff_grows_exponentially_with_bounded_jitter() -> None:
    plain = RetryPolicy(base_delay=1, backoff_multiplier=2, max_delay=10, jitter=False)
    assert [plain.delay(n) for n in range(5)] == [1, 2, 4, 8, 10]
    jittered = RetryPolicy(base_delay=1, backoff_multiplier=2, max_delay=60)
    for n in range(4):
        samples = [jittered.delay(n) for _ in range(200)]
        assert all(0.5 * 2**n <= s <= 1.5 * 2**n for s in samples) and len(set(samples)) > 1


def test_retry_utility_for_low_level_calls(llm_server: ScriptedLLMServer) -> None:
    from shopfloor.llm import Client, Request
    from shopfloor.llm.retry import retry

    client = Client.from_env(llm_server.env())
    llm_server.push(Fail(500), Fail(503), Reply(text="third"))
    response = retry(lambda: client.complete(Request(model="gpt-5.2", messages=[Message.user("x")])), FAST)
    assert response.text == "third" and len(llm_server.requests) == 3
