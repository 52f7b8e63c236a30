"""How each adapter reads its provider's answers (DoD 8.2 / 8.5 / 8.6): responses, finish reasons, usage,
reasoning, thinking signatures, cache statistics and rate-limit headers."""

from __future__ import annotations

import time

import pytest

from shopfloor.llm import Client, Message, Request
from shopfloor.llm.types import ContentKind
from tests.support.llm_server import Reply, ScriptedLLMServer, ToolUse


def _ask(client: Client, provider: str, model: str, **fields) -> object:  # type: ignore[no-untyped-def]
    return client.complete(Request(model=model, provider=provider, messages=[Message.user("hi")], **fields))


def test_complete_populates_the_response(
    client: Client, llm_server: ScriptedLLMServer, any_provider: tuple[str, str]
) -> None:
    provider, model = any_provider
    llm_server.push(Reply(text="Hello there.", input_tokens=21, output_tokens=7))
    response = _ask(client, provider, model)
    assert response.text == "Hello there."
    assert response.provider == provider and response.model == model and response.id
    assert response.finish_reason.reason == "stop" and response.finish_reason.raw
    assert (response.usage.input_tokens, response.usage.output_tokens, response.usage.total_tokens) == (
        21,
        7,
        28,
    )
    assert response.raw is not None and response.message.role.value == "assistant"


@pytest.mark.parametrize(("finish", "expected"), [("length", "length"), ("content_filter", "content_filter")])
def test_finish_reasons_map_to_the_unified_values(
    client: Client, llm_server: ScriptedLLMServer, any_provider: tuple[str, str], finish: str, expected: str
) -> None:
    provider, model = any_provider
    llm_server.push(Reply(text="cut", finish=finish))
    assert _ask(client, provider, model).finish_reason.reason == expected


def test_tool_calls_finish_as_tool_calls(
    client: Client, llm_server: ScriptedLLMServer, any_provider: tuple[str, str]
) -> None:
    provider, model = any_provider
    llm_server.push(Reply(tool_calls=[ToolUse("get_weather", {"city": "Oslo"}), ToolUse("get_time", {})]))
    response = _ask(client, provider, model)
    assert response.finish_reason.reason == "tool_calls"
    assert [(c.name, c.arguments) for c in response.tool_calls] == [
        ("get_weather", {"city": "Oslo"}),
        ("get_time", {}),
    ]
    ids = [c.id for c in response.tool_calls]
    assert all(ids) and len(set(ids)) == 2  # Gemini's are synthetic, but unique all the same


def test_reasoning_tokens_are_reported_apart_from_output(
    client: Client, llm_server: ScriptedLLMServer
) -> None:
    llm_server.push(Reply(text="42", output_tokens=120, reasoning_tokens=100))
    openai = _ask(client, "openai", "gpt-5.2", reasoning_effort="medium")
    assert (openai.usage.output_tokens, openai.usage.reasoning_tokens) == (120, 100)
    llm_server.push(Reply(text="42", reasoning="step by step", output_tokens=120, reasoning_tokens=100))
    gemini = _ask(client, "gemini", "gemini-3-flash-preview")
    assert (gemini.usage.output_tokens, gemini.usage.reasoning_tokens) == (120, 100)
    assert gemini.reasoning == "step by step" and gemini.text == "42"


def test_anthropic_thinking_blocks_keep_their_signature(
    client: Client, llm_server: ScriptedLLMServer
) -> None:
    llm_server.push(
        Reply(
            text="42",
            reasoning="Let me think this through carefully.",
            signature="sig-xyz",
            redacted_thinking="EncryptedBlob==",
        )
    )
    response = _ask(
        client,
        "anthropic",
        "claude-opus-4-6",
        provider_options={"anthropic": {"thinking": {"type": "enabled", "budget_tokens": 1024}}},
    )
    kinds = [p.kind for p in response.message.content]
    assert kinds == [ContentKind.THINKING, ContentKind.REDACTED_THINKING, ContentKind.TEXT]
    thinking, redacted = response.message.content[0].thinking, response.message.content[1].thinking
    assert thinking is not None and thinking.signature == "sig-xyz"
    assert redacted is not None and redacted.redacted and redacted.text == "EncryptedBlob=="
    assert response.usage.reasoning_tokens == len("Let me think this through carefully.") // 4
    # and the thinking goes back verbatim on the next turn
    llm_server.push(Reply(text="ok"))
    client.complete(
        Request(
            model="claude-opus-4-6", messages=[Message.user("hi"), response.message, Message.user("go on")]
        )
    )
    sent = llm_server.last.body["messages"][1]["content"]
    assert sent[0] == {
        "type": "thinking",
        "thinking": "Let me think this through carefully.",
        "signature": "sig-xyz",
    }
    assert sent[1] == {"type": "redacted_thinking", "data": "EncryptedBlob=="}


def test_cache_statistics(client: Client, llm_server: ScriptedLLMServer) -> None:
    llm_server.push(Reply(text="x", input_tokens=1000, cache_read_tokens=800))
    assert _ask(client, "openai", "gpt-5.2").usage.cache_read_tokens == 800
    llm_server.push(Reply(text="x", input_tokens=1000, cache_read_tokens=700, cache_write_tokens=200))
    usage = _ask(client, "anthropic", "claude-opus-4-6").usage
    assert (usage.input_tokens, usage.cache_read_tokens, usage.cache_write_tokens) == (1000, 700, 200)
    assert (
        usage.raw is not None and usage.raw["input_tokens"] == 100
    )  # Anthropic counts only the uncached part
    llm_server.push(Reply(text="x", input_tokens=1000, cache_read_tokens=600))
    assert _ask(client, "gemini", "gemini-3-flash-preview").usage.cache_read_tokens == 600


def test_cached_tokens_make_a_call_cheaper(client: Client, llm_server: ScriptedLLMServer) -> None:
    llm_server.push(
        Reply(text="x", input_tokens=100_000), Reply(text="x", input_tokens=100_000, cache_read_tokens=90_000)
    )
    cold = _ask(client, "anthropic", "claude-opus-4-6").cost_usd
    warm = _ask(client, "anthropic", "claude-opus-4-6").cost_usd
    assert warm < cold / 3


def test_rate_limit_info_from_openai_headers(client: Client, llm_server: ScriptedLLMServer) -> None:
    llm_server.push(
        Reply(
            text="x",
            headers={
                "x-ratelimit-limit-requests": "500",
                "x-ratelimit-remaining-requests": "499",
                "x-ratelimit-limit-tokens": "30000",
                "x-ratelimit-remaining-tokens": "29000",
                "x-ratelimit-reset-requests": "1m30s",
            },
        )
    )
    info = _ask(client, "openai", "gpt-5.2").rate_limit
    assert info is not None
    assert (info.requests_limit, info.requests_remaining, info.tokens_limit, info.tokens_remaining) == (
        500,
        499,
        30000,
        29000,
    )
    assert info.reset_at is not None and 80 < info.reset_at - time.time() < 100


def test_rate_limit_info_from_anthropic_headers(client: Client, llm_server: ScriptedLLMServer) -> None:
    llm_server.push(
        Reply(
            text="x",
            headers={
                "anthropic-ratelimit-requests-limit": "50",
                "anthropic-ratelimit-requests-remaining": "49",
                "anthropic-ratelimit-tokens-limit": "80000",
                "anthropic-ratelimit-tokens-remaining": "79000",
                "anthropic-ratelimit-requests-reset": "2030-01-01T00:00:00Z",
            },
        )
    )
    info = _ask(client, "anthropic", "claude-opus-4-6").rate_limit
    assert info is not None and (info.requests_remaining, info.tokens_limit) == (49, 80000)
    assert info.reset_at == pytest.approx(1893456000)


def test_structured_output_from_anthropic_tool_comes_back_as_text(
    client: Client, llm_server: ScriptedLLMServer
) -> None:
    from shopfloor.llm.types import ResponseFormat

    llm_server.push(Reply(tool_calls=[ToolUse("structured_output", {"name": "Alice"})]))
    response = _ask(
        client,
        "anthropic",
        "claude-opus-4-6",
        response_format=ResponseFormat(type="json_schema", json_schema={"type": "object"}),
    )
    assert response.text == '{"name": "Alice"}' and response.tool_calls == []
    assert response.finish_reason.reason == "stop"
