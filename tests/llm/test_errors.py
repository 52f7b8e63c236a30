"""The error taxonomy and its classification (spec 6.1-6.5)."""

from __future__ import annotations

import pytest

from shopfloor.llm import errors as e


@pytest.mark.parametrize(
    ("status", "cls", "retryable"),
    [
        (400, e.InvalidRequestError, False),
        (401, e.AuthenticationError, False),
        (403, e.AccessDeniedError, False),
        (404, e.NotFoundError, False),
        (408, e.RequestTimeoutError, False),
        (413, e.ContextLengthError, False),
        (422, e.InvalidRequestError, False),
        (429, e.RateLimitError, True),
        (500, e.ServerError, True),
        (502, e.ServerError, True),
        (503, e.ServerError, True),
        (504, e.ServerError, True),
        (529, e.ServerError, True),
    ],
)
def test_http_status_mapping(status: int, cls: type[e.SDKError], retryable: bool) -> None:
    err = e.error_from_status(provider="p", status=status, message="boom", retry_after=2.0)
    assert type(err) is cls
    assert err.retryable is retryable
    assert err.retry_after == 2.0


@pytest.mark.parametrize(
    ("message", "cls"),
    [
        ("This model's maximum context length is 128000 tokens", e.ContextLengthError),
        ("prompt is too long: 210000 tokens > 200000 maximum", e.ContextLengthError),
        ("The model `gpt-9` does not exist", e.NotFoundError),
        ("Invalid API key provided", e.AuthenticationError),
        ("blocked by the content filter", e.ContentFilterError),
    ],
)
def test_ambiguous_400_is_classified_by_message(message: str, cls: type[e.SDKError]) -> None:
    assert type(e.error_from_status(provider="p", status=400, message=message)) is cls


def test_quota_429_is_not_retryable_but_rate_limit_is() -> None:
    quota = e.error_from_status(provider="openai", status=429, message="You exceeded your current quota")
    assert isinstance(quota, e.QuotaExceededError) and not quota.retryable
    assert e.error_from_status(provider="openai", status=429, message="slow down").retryable


@pytest.mark.parametrize(
    ("grpc", "cls"),
    [
        ("NOT_FOUND", e.NotFoundError),
        ("INVALID_ARGUMENT", e.InvalidRequestError),
        ("UNAUTHENTICATED", e.AuthenticationError),
        ("PERMISSION_DENIED", e.AccessDeniedError),
        ("RESOURCE_EXHAUSTED", e.RateLimitError),
        ("UNAVAILABLE", e.ServerError),
        ("DEADLINE_EXCEEDED", e.RequestTimeoutError),
        ("INTERNAL", e.ServerError),
    ],
)
def test_grpc_status_mapping(grpc: str, cls: type[e.SDKError]) -> None:
    assert type(e.error_from_status(provider="gemini", status=None, message="x", grpc_status=grpc)) is cls


def test_unknown_errors_default_to_retryable_and_every_error_is_an_sdk_error() -> None:
    assert e.SDKError("x").retryable
    assert e.error_from_status(provider="p", status=418, message="teapot").retryable
    for cls in (e.NetworkError, e.StreamError):
        assert cls("x").retryable
    for cls in (
        e.AbortError,
        e.ConfigurationError,
        e.NoObjectGeneratedError,
        e.InvalidToolCallError,
        e.UnsupportedToolChoiceError,
        e.BudgetExceededError,
    ):
        assert issubclass(cls, e.SDKError) and not cls("x").retryable
    assert issubclass(e.UnknownModelError, e.NotFoundError)
