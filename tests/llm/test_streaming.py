"""Streaming (spec 4.2 / 4.4 / 7.7, DoD 8.4 / 8.8): each provider's SSE format into unified events,
and the faults a real stream has: malformed events, dropped connections, stalls."""

from __future__ import annotations

import pytest

from shopfloor.llm import Client, Message, Request, StreamAccumulator, stream
from shopfloor.llm.errors import RateLimitError, RequestTimeoutError, StreamError
from shopfloor.llm.types import AdapterTimeout, StreamEventType
from tests.support.llm_server import Fail, Reply, ScriptedLLMServer, ToolUse

T = StreamEventType


def _events(client: Client, provider: str, model: str, **fields):  # type: ignore[no-untyped-def]
    return list(
        client.stream(Request(model=model, provider=provider, messages=[Message.user("hi")], **fields))
    )


def test_text_streams_with_start_delta_end_and_a_finish(
    client: Client, llm_server: ScriptedLLMServer, any_provider: tuple[str, str]
) -> None:
    provider, model = any_provider
    llm_server.push(Reply(text="The quick brown fox jumps.", chunk_size=5, input_tokens=12, output_tokens=6))
    events = [e for e in _events(client, provider, model) if e.type != T.PROVIDER_EVENT]
    kinds = [e.type for e in events]
    assert kinds[0] == T.STREAM_START and kinds[-1] == T.FINISH
    assert kinds[1] == T.TEXT_START and kinds[-2] == T.TEXT_END
    deltas = [e for e in events if e.type == T.TEXT_DELTA]
    assert len(deltas) == 6 and len({e.text_id for e in events if e.text_id is not None}) == 1
    finish = events[-1]
    assert finish.response is not None
    assert "".join(e.delta or "" for e in deltas) == finish.response.text == "The quick brown fox jumps."
    assert finish.finish_reason is not None and finish.finish_reason.reason == "stop"
    assert finish.usage is not None and (finish.usage.input_tokens, finish.usage.output_tokens) == (12, 6)
    assert finish.usage.cost_usd is not None and finish.usage.cost_usd > 0
    assert finish.response.provider == provider


def test_streamed_tool_calls(
    client: Client, llm_server: ScriptedLLMServer, any_provider: tuple[str, str]
) -> None:
    provider, model = any_provider
    llm_server.push(
        Reply(
            text="Checking.",
            tool_calls=[ToolUse("get_weather", {"city": "Lima"}), ToolUse("get_time", {"tz": "PET"})],
        )
    )
    events = _events(client, provider, model)
    starts = [e.tool_call for e in events if e.type == T.TOOL_CALL_START]
    ends = [e.tool_call for e in events if e.type == T.TOOL_CALL_END]
    assert [c.name for c in starts if c] == ["get_weather", "get_time"]
    assert [(c.name, c.arguments) for c in ends if c] == [
        ("get_weather", {"city": "Lima"}),
        ("get_time", {"tz": "PET"}),
    ]
    final = events[-1].response
    assert final is not None and final.finish_reason.reason == "tool_calls"
    assert [c.id for c in final.tool_calls] == [c.id for c in ends if c]
    if provider != "gemini":  # Gemini sends whole calls in one chunk; the others stream the JSON
        deltas = [e for e in events if e.type == T.TOOL_CALL_DELTA]
        assert deltas and "".join(e.delta or "" for e in deltas[: len(deltas)]).startswith("{")


def test_streamed_reasoning(
    client: Client, llm_server: ScriptedLLMServer, any_provider: tuple[str, str]
) -> None:
    provider, model = any_provider
    llm_server.push(Reply(text="42", reasoning="Six times seven.", reasoning_tokens=5, output_tokens=9))
    events = _events(client, provider, model)
    kinds = [e.type for e in events]
    assert T.REASONING_START in kinds and T.REASONING_END in kinds
    assert (
        "".join(e.reasoning_delta or "" for e in events if e.type == T.REASONING_DELTA) == "Six times seven."
    )
    final = events[-1].response
    assert final is not None and final.reasoning == "Six times seven." and final.text == "42"


def test_anthropic_streamed_thinking_keeps_its_signature(
    client: Client, llm_server: ScriptedLLMServer
) -> None:
    llm_server.push(Reply(text="ok", reasoning="hmm", signature="sig-streamed"))
    final = _events(client, "anthropic", "claude-opus-4-6")[-1].response
    assert final is not None and final.message.content[0].thinking is not None
    assert final.message.content[0].thinking.signature == "sig-streamed"


def test_accumulator_rebuilds_the_response(
    client: Client, llm_server: ScriptedLLMServer, any_provider: tuple[str, str]
) -> None:
    provider, model = any_provider
    llm_server.push(
        Reply(text="Same either way.", tool_calls=[ToolUse("f", {"a": 1})]),
        Reply(text="Same either way.", tool_calls=[ToolUse("f", {"a": 1})]),
    )
    complete = client.complete(Request(model=model, provider=provider, messages=[Message.user("hi")]))
    accumulator = StreamAccumulator()
    for event in _events(client, provider, model):
        if event.type != T.FINISH:  # rebuild from the deltas alone
            accumulator.process(event)
    rebuilt = accumulator.response()
    assert rebuilt.text == complete.text
    assert [(c.name, c.arguments) for c in rebuilt.tool_calls] == [
        (c.name, c.arguments) for c in complete.tool_calls
    ]


def test_malformed_event_becomes_an_error_event(
    client: Client, llm_server: ScriptedLLMServer, any_provider: tuple[str, str]
) -> None:
    provider, model = any_provider
    llm_server.push(Reply(text="abcdefghijklmnop", malformed_after=3))
    events = _events(client, provider, model)
    assert events[-1].type == T.ERROR and isinstance(events[-1].error, StreamError)
    assert "malformed" in str(events[-1].error)


def test_connection_dropped_mid_stream_becomes_an_error_event(
    client: Client, llm_server: ScriptedLLMServer, any_provider: tuple[str, str]
) -> None:
    provider, model = any_provider
    llm_server.push(Reply(text="abcdefghijklmnop", chunk_size=2, drop_after=4))
    events = _events(client, provider, model)
    assert events[0].type == T.STREAM_START
    assert events[-1].type == T.ERROR and isinstance(events[-1].error, StreamError)
    assert all(e.type != T.FINISH for e in events)


def test_http_errors_are_raised_before_any_event(
    client: Client, llm_server: ScriptedLLMServer, any_provider: tuple[str, str]
) -> None:
    provider, model = any_provider
    llm_server.push(Fail(429, retry_after=1))
    with pytest.raises(RateLimitError):
        _events(client, provider, model)


def test_stalled_stream_times_out_between_events(llm_server: ScriptedLLMServer) -> None:
    from shopfloor.llm.adapters.anthropic import AnthropicAdapter

    adapter = AnthropicAdapter("k", llm_server.anthropic_base_url, timeout=AdapterTimeout(stream_read=0.3))
    client = Client({"anthropic": adapter})
    llm_server.push(Reply(text="abcdefgh", chunk_size=2, stall_after=3, stall_seconds=2))
    events = _events(client, "anthropic", "claude-opus-4-6")
    assert events[-1].type == T.ERROR and isinstance(events[-1].error, RequestTimeoutError)


def test_high_level_stream_retries_the_connection_only(llm_env: ScriptedLLMServer) -> None:
    llm_env.push(Fail(503), Reply(text="second try"))
    result = stream("claude-opus-4-6", "hi", retry_policy=_fast())
    assert "".join(result.text_stream) == "second try"
    assert result.response().text == "second try" and len(llm_env.requests) == 2


def test_high_level_stream_does_not_retry_after_partial_data(llm_env: ScriptedLLMServer) -> None:
    llm_env.push(Reply(text="partial data here", chunk_size=3, drop_after=8), Reply(text="never sent"))
    result = stream("gpt-5.2", "hi", retry_policy=_fast())
    seen: list[StreamEventType] = []
    with pytest.raises(StreamError):
        for event in result:
            seen.append(event.type)
    assert T.TEXT_DELTA in seen and seen[-1] == T.ERROR
    assert len(llm_env.requests) == 1 and llm_env.pending == 1


def test_stream_result_response_and_partial_response(llm_env: ScriptedLLMServer) -> None:
    llm_env.push(Reply(text="Hello world", chunk_size=3))
    result = stream("gemini-3-flash-preview", "hi")
    iterator = iter(result)
    while next(iterator).type != T.TEXT_DELTA:
        pass
    partial = result.partial_response
    assert partial is not None and partial.text == "Hel"
    assert result.response().text == "Hello world"


def _fast():  # type: ignore[no-untyped-def]
    from shopfloor.llm.retry import RetryPolicy

    return RetryPolicy(max_retries=2, base_delay=0.01, jitter=False)


def test_gemini_stream_as_a_json_array(client: Client, llm_server: ScriptedLLMServer) -> None:
    """Without `alt=sse` Gemini streams one JSON array of chunks; the adapter reads that too."""
    from tests.support.llm_server import Raw

    chunks = [
        {"candidates": [{"content": {"role": "model", "parts": [{"text": "Hel"}]}}]},
        {
            "candidates": [{"content": {"role": "model", "parts": [{"text": "lo"}]}, "finishReason": "STOP"}],
            "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 2, "totalTokenCount": 5},
        },
    ]
    llm_server.push(Raw(200, chunks))
    events = _events(client, "gemini", "gemini-3-flash-preview")
    assert [e.delta for e in events if e.type == T.TEXT_DELTA] == ["Hel", "lo"]
    assert events[-1].response is not None and events[-1].response.text == "Hello"
    assert events[-1].usage is not None and events[-1].usage.total_tokens == 5
