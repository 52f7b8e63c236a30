"""The core client (spec 2.2-2.5, DoD 8.1): construction, routing, model checks, costs, middleware."""

from __future__ import annotations

import pytest

from shopfloor.llm import Client, Message, Request, get_default_client, set_default_client
from shopfloor.llm.adapters.anthropic import AnthropicAdapter
from shopfloor.llm.adapters.openai import OpenAIAdapter
from shopfloor.llm.errors import ConfigurationError, NotFoundError, UnknownModelError
from shopfloor.llm.middleware import Middleware
from shopfloor.llm.types import Response, StreamEventType
from tests.support.llm_server import Reply, ScriptedLLMServer


def _request(model: str = "gpt-5.2", provider: str | None = None) -> Request:
    return Request(model=model, provider=provider, messages=[Message.user("hi")])


def test_from_env_registers_only_configured_providers_and_empty_means_unset(
    llm_server: ScriptedLLMServer,
) -> None:
    env = {**llm_server.env(), "GEMINI_API_KEY": "", "ANTHROPIC_API_KEY": "  "}
    client = Client.from_env(env)
    assert set(client.providers) == {"openai"} and client.default_provider == "openai"
    assert Client.from_env({}).providers == {}


def test_from_env_accepts_google_key_and_compat_endpoint(llm_server: ScriptedLLMServer) -> None:
    client = Client.from_env(
        {
            "GOOGLE_API_KEY": "g",
            "SHOPFLOOR_OPENAI_COMPAT_BASE_URL": "http://127.0.0.1:11434/v1",
            "SHOPFLOOR_OPENAI_COMPAT_MODEL": "qwen2.5-coder",
        }
    )
    assert set(client.providers) == {"gemini", "ollama"}
    assert client.default_model("ollama") == "qwen2.5-coder"
    assert client.default_model("gemini") == "gemini-3.1-pro-preview"


def test_from_env_default_provider_must_be_configured() -> None:
    with pytest.raises(ConfigurationError):
        Client.from_env({"OPENAI_API_KEY": "k", "SHOPFLOOR_LLM_PROVIDER": "anthropic"})
    assert (
        Client.from_env(
            {"OPENAI_API_KEY": "k", "ANTHROPIC_API_KEY": "k", "SHOPFLOOR_LLM_PROVIDER": "anthropic"}
        ).default_provider
        == "anthropic"
    )


def test_programmatic_client_routes_by_provider_field_and_default(llm_server: ScriptedLLMServer) -> None:
    client = Client(
        {
            "openai": OpenAIAdapter("k", llm_server.openai_base_url),
            "anthropic": AnthropicAdapter("k", llm_server.anthropic_base_url),
        },
        default_provider="anthropic",
    )
    llm_server.default = Reply(text="ok")
    assert client.complete(_request("claude-opus-4-6")).provider == "anthropic"
    assert llm_server.last.provider == "anthropic"
    client.complete(_request("gpt-5.2", provider="openai"))
    assert llm_server.last.provider == "openai" and llm_server.last.path == "/v1/responses"
    # no provider field: the catalog's provider for a known model wins over the default
    client.complete(_request("gpt-5.2"))
    assert llm_server.last.provider == "openai"


def test_configuration_error_without_providers_or_with_an_unregistered_one() -> None:
    with pytest.raises(ConfigurationError, match="no LLM provider configured"):
        Client().complete(_request())
    with pytest.raises(ConfigurationError, match="not configured"):
        Client({"openai": OpenAIAdapter("k")}).complete(_request(provider="gemini"))


def test_unknown_model_on_a_catalogued_provider_fails_before_sending(
    client: Client, llm_server: ScriptedLLMServer
) -> None:
    with pytest.raises(UnknownModelError) as info:
        client.complete(_request("nonexistent-model-xyz", provider="openai"))
    assert isinstance(info.value, NotFoundError)
    assert llm_server.requests == []


def test_unlisted_models_can_be_allowed(llm_server: ScriptedLLMServer) -> None:
    client = Client.from_env(llm_server.env(), strict_models=False)
    llm_server.push(Reply(text="ok"))
    assert client.complete(_request("gpt-next", provider="openai")).text == "ok"


def test_compat_providers_take_any_model_name(client: Client, llm_server: ScriptedLLMServer) -> None:
    llm_server.push(Reply(text="local"))
    assert client.complete(_request("whatever:7b", provider="ollama")).text == "local"


def test_every_response_carries_its_cost(client: Client, llm_server: ScriptedLLMServer) -> None:
    llm_server.push(Reply(text="x", input_tokens=1_000_000, output_tokens=1_000_000))
    response = client.complete(_request("gpt-5.2", provider="openai"))
    assert response.cost_usd == pytest.approx(1.75 + 14)
    assert response.usage.cost_usd == response.cost_usd


class _Recorder(Middleware):
    def __init__(self, name: str, log: list[str]) -> None:
        self.name, self.log = name, log

    def complete(self, request, call_next):  # type: ignore[no-untyped-def]
        self.log.append(f"{self.name}:request:{request.provider}")
        response = call_next(request)
        self.log.append(f"{self.name}:response:{response.cost_usd > 0}")
        return response

    def stream(self, request, call_next):  # type: ignore[no-untyped-def]
        self.log.append(f"{self.name}:stream")
        for event in call_next(request):
            if event.type == StreamEventType.FINISH:
                self.log.append(f"{self.name}:finish")
            yield event


def test_middleware_runs_in_registration_order_then_reverse(llm_server: ScriptedLLMServer) -> None:
    log: list[str] = []

    def plain(request: Request, call_next):  # type: ignore[no-untyped-def]
        log.append("fn:request")
        response: Response = call_next(request)
        log.append("fn:response")
        return response

    client = Client.from_env(llm_server.env(), middleware=[_Recorder("a", log), _Recorder("b", log), plain])
    llm_server.push(Reply(text="x"), Reply(text="y"))
    client.complete(_request())
    assert log == [
        "a:request:openai",
        "b:request:openai",
        "fn:request",
        "fn:response",
        "b:response:True",
        "a:response:True",
    ]
    log.clear()
    events = list(client.stream(_request()))
    assert events[-1].type == StreamEventType.FINISH
    assert log == ["a:stream", "b:stream", "b:finish", "a:finish"]


def test_middleware_can_rewrite_the_request(llm_server: ScriptedLLMServer) -> None:
    def cap(request: Request, call_next):  # type: ignore[no-untyped-def]
        return call_next(request.model_copy(update={"max_tokens": 7}))

    llm_server.push(Reply(text="x"))
    Client.from_env(llm_server.env(), middleware=[cap]).complete(_request())
    assert llm_server.last.body["max_output_tokens"] == 7


def test_module_level_default_client(llm_env: ScriptedLLMServer) -> None:
    from shopfloor.llm import generate

    lazy = get_default_client()
    assert "anthropic" in lazy.providers and get_default_client() is lazy
    mine = Client({"anthropic": AnthropicAdapter("k", llm_env.anthropic_base_url)})
    set_default_client(mine)
    try:
        assert get_default_client() is mine
        llm_env.push(Reply(text="from default"))
        assert generate("claude-opus-4-6", "hi").text == "from default"
    finally:
        set_default_client(None)


def test_async_complete_and_stream(client: Client, llm_server: ScriptedLLMServer) -> None:
    import asyncio

    async def main() -> tuple[str, list[str]]:
        llm_server.push(Reply(text="async hello"), Reply(text="async stream", chunk_size=3))
        done, events = await asyncio.gather(
            client.acomplete(_request("claude-opus-4-6")),
            _collect(client.astream(_request("gemini-3-flash-preview"))),
        )
        return done.text, events

    async def _collect(stream):  # type: ignore[no-untyped-def]
        return [e.delta async for e in stream if e.type == StreamEventType.TEXT_DELTA]

    text, deltas = asyncio.run(main())
    assert {text, "".join(d or "" for d in deltas)} == {"async hello", "async stream"}


def test_unsupported_tool_choice_is_refused_before_sending(llm_server: ScriptedLLMServer) -> None:
    from shopfloor.llm.adapters.openai_compat import OpenAICompatibleAdapter
    from shopfloor.llm.errors import UnsupportedToolChoiceError
    from shopfloor.llm.types import ToolChoice, ToolDefinition

    adapter = OpenAICompatibleAdapter(
        llm_server.compat_base_url, name="llamacpp", tool_choice_modes=("auto", "none")
    )
    client = Client({"llamacpp": adapter})
    assert adapter.supports_tool_choice("auto") and not adapter.supports_tool_choice("required")
    request = Request(
        model="local",
        messages=[Message.user("x")],
        tools=[ToolDefinition(name="f")],
        tool_choice=ToolChoice(mode="required"),
    )
    with pytest.raises(UnsupportedToolChoiceError):
        client.complete(request)
    assert llm_server.requests == []
