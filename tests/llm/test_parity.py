"""The cross-provider parity matrix (spec 8.9): every row, for OpenAI, Anthropic and Gemini,
each through its own wire format on the scripted server."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shopfloor.llm import Message, Tool, generate, generate_object, stream
from shopfloor.llm.catalog import default_catalog
from shopfloor.llm.errors import AuthenticationError, RateLimitError
from shopfloor.llm.retry import RetryPolicy
from shopfloor.llm.types import ContentPart, StreamEventType
from tests.support.llm_server import Fail, RecordedRequest, Reply, ScriptedLLMServer, ToolUse

MODELS = {"openai": "gpt-5.2", "anthropic": "claude-opus-4-6", "gemini": "gemini-3-flash-preview"}
PNG = b"\x89PNG\r\n\x1a\n-parity"
CITY = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


@pytest.fixture(params=list(MODELS))
def provider(request: pytest.FixtureRequest, llm_env: ScriptedLLMServer) -> str:
    return request.param


def _weather(log: list[str]) -> Tool:
    def get_weather(city: str) -> str:
        log.append(city)
        return f"{city}: 20C"

    return Tool(name="get_weather", description="Weather", parameters=CITY, execute=get_weather)


def _tool_results_sent(req: RecordedRequest) -> int:
    """How many tool results a request carries, in whichever provider's format."""
    text = json.dumps(req.body)
    return (
        text.count('"function_call_output"') + text.count('"tool_result"') + text.count('"functionResponse"')
    )


def test_simple_text_generation(provider: str, llm_env: ScriptedLLMServer) -> None:
    llm_env.push(Reply(text="Hello in one sentence."))
    result = generate(MODELS[provider], "Say hello in one sentence.", max_tokens=100, provider=provider)
    assert result.text == "Hello in one sentence." and result.finish_reason.reason == "stop"
    assert result.usage.input_tokens > 0 and result.usage.output_tokens > 0


def test_streaming_text_generation(provider: str, llm_env: ScriptedLLMServer) -> None:
    llm_env.push(Reply(text="An old silent pond / a frog jumps in.", chunk_size=5))
    result = stream(MODELS[provider], "Write a haiku.")
    chunks = [e.delta for e in result if e.type == StreamEventType.TEXT_DELTA]
    assert len(chunks) > 1 and "".join(c or "" for c in chunks) == result.response().text


@pytest.mark.parametrize("how", ["base64", "url"])
def test_image_input(provider: str, llm_env: ScriptedLLMServer, how: str) -> None:
    image = (
        ContentPart.of_image(data=PNG, media_type="image/png")
        if how == "base64"
        else ContentPart.of_image(url="https://example.com/cat.png")
    )
    llm_env.push(Reply(text="A cat."))
    result = generate(
        MODELS[provider], messages=[Message.user([ContentPart.of_text("What is this?"), image])]
    )
    assert result.text == "A cat."
    sent = json.dumps(llm_env.last.body)
    expected = "iVBORw0KGgotcGFyaXR5" if how == "base64" else "https://example.com/cat.png"
    assert expected in sent and "What is this?" in sent


def test_single_tool_call_and_execution(provider: str, llm_env: ScriptedLLMServer) -> None:
    log: list[str] = []
    llm_env.push(
        Reply(tool_calls=[ToolUse("get_weather", {"city": "San Francisco"})]),
        Reply(text="San Francisco is 20C."),
    )
    result = generate(MODELS[provider], "Weather in SF?", tools=[_weather(log)], max_tool_rounds=3)
    assert log == ["San Francisco"] and result.text == "San Francisco is 20C." and len(result.steps) == 2
    assert _tool_results_sent(llm_env.requests[1]) == 1


def test_multiple_parallel_tool_calls(provider: str, llm_env: ScriptedLLMServer) -> None:
    log: list[str] = []
    llm_env.push(
        Reply(
            tool_calls=[
                ToolUse("get_weather", {"city": "San Francisco"}),
                ToolUse("get_weather", {"city": "New York"}),
            ]
        ),
        Reply(text="San Francisco 20C, New York 20C."),
    )
    result = generate(MODELS[provider], "SF and NY?", tools=[_weather(log)], max_tool_rounds=3)
    assert sorted(log) == ["New York", "San Francisco"]
    assert "San Francisco" in result.text and "New York" in result.text and len(result.steps) >= 2
    assert _tool_results_sent(llm_env.requests[1]) == 2 and len(llm_env.requests) == 2


def test_multi_step_tool_loop(provider: str, llm_env: ScriptedLLMServer) -> None:
    log: list[str] = []
    llm_env.push(
        *[Reply(tool_calls=[ToolUse("get_weather", {"city": c})]) for c in ("A", "B", "C")],
        Reply(text="All three."),
    )
    result = generate(MODELS[provider], "Three hops.", tools=[_weather(log)], max_tool_rounds=5)
    assert log == ["A", "B", "C"] and len(result.steps) == 4 and result.text == "All three."
    assert [_tool_results_sent(r) for r in llm_env.requests] == [0, 1, 2, 3]


def test_streaming_with_tool_calls(provider: str, llm_env: ScriptedLLMServer) -> None:
    log: list[str] = []
    llm_env.push(Reply(tool_calls=[ToolUse("get_weather", {"city": "Paris"})]), Reply(text="Paris is 20C."))
    result = stream(MODELS[provider], "Paris?", tools=[_weather(log)], max_tool_rounds=2)
    kinds = [e.type for e in result]
    assert kinds.count(StreamEventType.TOOL_CALL_END) == 1 and kinds.count(StreamEventType.STEP_FINISH) == 1
    assert kinds.count(StreamEventType.FINISH) == 2 and log == ["Paris"]
    assert result.response().text == "Paris is 20C." and len(result.steps) == 2


def test_structured_output(provider: str, llm_env: ScriptedLLMServer) -> None:
    obj = {"name": "Alice", "age": 30}
    llm_env.push(
        Reply(tool_calls=[ToolUse("structured_output", obj)])
        if provider == "anthropic"
        else Reply(text=json.dumps(obj))
    )
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"],
    }
    result = generate_object(MODELS[provider], "Extract: Alice is 30 years old", schema=schema)
    assert result.output["name"] == "Alice" and result.output["age"] == 30


def test_reasoning_token_reporting(provider: str, llm_env: ScriptedLLMServer) -> None:
    llm_env.push(Reply(text="42", reasoning="Thinking hard about it.", reasoning_tokens=64, output_tokens=80))
    result = generate(MODELS[provider], "Hard question", reasoning_effort="high")
    expected = len("Thinking hard about it.") // 4 if provider == "anthropic" else 64
    assert result.usage.reasoning_tokens == expected
    assert result.usage.output_tokens == 80
    if provider != "openai":  # OpenAI summaries aside, the thinking text is visible
        assert result.reasoning == "Thinking hard about it."


def test_invalid_api_key_is_401(provider: str, llm_env: ScriptedLLMServer) -> None:
    llm_env.push(Fail(401, "invalid api key"))
    with pytest.raises(AuthenticationError) as info:
        generate(MODELS[provider], "x")
    assert info.value.status_code == 401 and info.value.provider == provider and len(llm_env.requests) == 1


def test_rate_limit_is_429(provider: str, llm_env: ScriptedLLMServer) -> None:
    llm_env.push(Fail(429, retry_after=2))
    with pytest.raises(RateLimitError) as info:
        generate(MODELS[provider], "x", max_retries=0)
    assert info.value.retry_after == 2 and info.value.retryable
    llm_env.push(Fail(429, retry_after=0.01), Reply(text="recovered"))
    assert generate(MODELS[provider], "x", retry_policy=RetryPolicy(max_retries=1)).text == "recovered"


def test_usage_token_counts_are_accurate(provider: str, llm_env: ScriptedLLMServer) -> None:
    llm_env.push(Reply(text="x", input_tokens=1234, output_tokens=56, cache_read_tokens=1000))
    usage = generate(MODELS[provider], "x").usage
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (1234, 56, 1290)
    assert usage.cache_read_tokens == 1000 and usage.cost_usd is not None and usage.cost_usd > 0


def test_prompt_caching_reads_on_later_turns(provider: str, llm_env: ScriptedLLMServer) -> None:
    """An agentic session: from turn 2 the shared prefix comes from the cache (>50% by turn 5)."""
    history: list[Message] = [Message.system("You are a coding agent. " * 50)]
    usages = []
    for turn in range(1, 6):
        prompt = 2000 * turn
        cached = 0 if turn == 1 else int(prompt * 0.8)
        llm_env.push(
            Reply(
                text=f"answer {turn}",
                input_tokens=prompt,
                cache_read_tokens=cached,
                cache_write_tokens=2000 if provider == "anthropic" and turn == 1 else 0,
            )
        )
        history.append(Message.user(f"step {turn}"))
        result = generate(MODELS[provider], messages=list(history))
        history.append(result.response.message)
        usages.append(result.usage)
    assert usages[0].cache_read_tokens in (0, None)
    assert all((u.cache_read_tokens or 0) > 0 for u in usages[1:])
    assert (usages[4].cache_read_tokens or 0) > 0.5 * usages[4].input_tokens
    uncached = usages[4].model_copy(update={"cache_read_tokens": 0, "cache_write_tokens": 0})
    assert usages[4].cost_usd < default_catalog().cost(
        uncached, MODELS[provider], provider
    )  # and it is cheaper
    if provider == "anthropic":
        assert "cache_control" in json.dumps(llm_env.last.body)
        assert "prompt-caching-2024-07-31" in llm_env.last.headers["anthropic-beta"]


def test_provider_specific_options_pass_through(provider: str, llm_env: ScriptedLLMServer) -> None:
    options: dict[str, Any] = {
        "openai": {"service_tier": "flex"},
        "anthropic": {"top_k": 3},
        "gemini": {"cachedContent": "cachedContents/xyz"},
    }
    llm_env.push(Reply(text="ok"))
    generate(MODELS[provider], "x", provider_options=options)
    key, value = next(iter(options[provider].items()))
    assert llm_env.last.body[key] == value
    assert not any(k in llm_env.last.body for p, o in options.items() if p != provider for k in o)
