"""Provider HTTP errors become the right error types, each through its own error body (DoD 8.2, 8.8)."""

from __future__ import annotations

import pytest

from shopfloor.llm import Client, Message, Request
from shopfloor.llm import errors as e
from tests.support.llm_server import Fail, Raw, ScriptedLLMServer


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, e.InvalidRequestError),
        (401, e.AuthenticationError),
        (403, e.AccessDeniedError),
        (404, e.NotFoundError),
        (413, e.ContextLengthError),
        (429, e.RateLimitError),
        (500, e.ServerError),
        (503, e.ServerError),
    ],
)
def test_status_codes_map_to_error_types(
    client: Client,
    llm_server: ScriptedLLMServer,
    any_provider: tuple[str, str],
    status: int,
    cls: type[e.SDKError],
) -> None:
    provider, model = any_provider
    llm_server.push(Fail(status, f"scripted failure {status}"))
    with pytest.raises(cls) as info:
        client.complete(Request(model=model, provider=provider, messages=[Message.user("hi")]))
    err = info.value
    assert isinstance(err, e.ProviderError)
    assert err.status_code == status and err.provider == provider
    assert err.message == f"scripted failure {status}" and err.raw is not None
    assert err.retryable is (status in (429, 500, 503))


def test_retry_after_is_parsed_onto_the_error(
    client: Client, llm_server: ScriptedLLMServer, any_provider: tuple[str, str]
) -> None:
    provider, model = any_provider
    llm_server.push(Fail(429, "slow down", retry_after=7))
    with pytest.raises(e.RateLimitError) as info:
        client.complete(Request(model=model, provider=provider, messages=[Message.user("hi")]))
    assert info.value.retry_after == 7


def test_gemini_retry_info_in_the_body_counts_as_retry_after(
    client: Client, llm_server: ScriptedLLMServer
) -> None:
    llm_server.push(
        Raw(
            429,
            {
                "error": {
                    "code": 429,
                    "message": "Resource has been exhausted",
                    "status": "RESOURCE_EXHAUSTED",
                    "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "12s"}],
                }
            },
        )
    )
    with pytest.raises(e.RateLimitError) as info:
        client.complete(Request(model="gemini-3-flash-preview", messages=[Message.user("hi")]))
    assert info.value.retry_after == 12 and info.value.error_code == "RESOURCE_EXHAUSTED"


def test_context_length_400_from_openai_is_a_context_length_error(
    client: Client, llm_server: ScriptedLLMServer
) -> None:
    llm_server.push(
        Fail(400, "This model's maximum context length is 400000 tokens.", error_type="invalid_request_error")
    )
    with pytest.raises(e.ContextLengthError):
        client.complete(Request(model="gpt-5.2", messages=[Message.user("hi")]))


def test_non_json_error_bodies_still_classify(client: Client, llm_server: ScriptedLLMServer) -> None:
    llm_server.push(Raw(502, "<html>Bad gateway</html>", {"content-type": "text/html"}))
    with pytest.raises(e.ServerError, match="Bad gateway"):
        client.complete(Request(model="claude-opus-4-6", messages=[Message.user("hi")]))


def test_unreachable_server_is_a_retryable_network_error() -> None:
    from shopfloor.llm.adapters.openai import OpenAIAdapter

    client = Client({"openai": OpenAIAdapter("k", "http://127.0.0.1:9/v1")})
    with pytest.raises(e.NetworkError) as info:
        client.complete(Request(model="gpt-5.2", messages=[Message.user("hi")]))
    assert info.value.retryable
