"""The error taxonomy (unified-llm-spec section 6): every failure is an SDKError.

Each error says whether retrying can help (`retryable`) and, when the provider
said so, how long to wait (`retry_after`). `error_from_status` maps an HTTP
status, a gRPC status name or a message to the right class.
"""

from __future__ import annotations

from typing import Any


class SDKError(Exception):
    """Base of every error the LLM client raises."""

    retryable: bool = True  # unknown errors default to retryable (spec 6.3)

    def __init__(self, message: str, *, cause: BaseException | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.cause = cause
        self.retry_after: float | None = None


class ProviderError(SDKError):
    """An error reported by the provider (an HTTP error response or an error event)."""

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        status_code: int | None = None,
        error_code: str | None = None,
        retry_after: float | None = None,
        raw: dict[str, Any] | None = None,
        retryable: bool | None = None,
        cause: BaseException | None = None,
    ) -> None:
        super().__init__(message, cause=cause)
        self.provider = provider
        self.status_code = status_code
        self.error_code = error_code
        self.retry_after = retry_after
        self.raw = raw
        if retryable is not None:
            self.retryable = retryable

    def __str__(self) -> str:
        status = f" {self.status_code}" if self.status_code else ""
        return f"{self.provider or 'provider'}{status}: {self.message}"


class AuthenticationError(ProviderError):
    retryable = False


class AccessDeniedError(ProviderError):
    retryable = False


class NotFoundError(ProviderError):
    retryable = False


class UnknownModelError(NotFoundError):
    """The model is not in the catalog of a provider whose models the catalog lists; raised before sending."""


class InvalidRequestError(ProviderError):
    retryable = False


class RateLimitError(ProviderError):
    retryable = True


class ServerError(ProviderError):
    retryable = True


class ContentFilterError(ProviderError):
    retryable = False


class ContextLengthError(ProviderError):
    retryable = False


class QuotaExceededError(ProviderError):
    retryable = False


class RequestTimeoutError(SDKError):
    retryable = False


class AbortError(SDKError):
    retryable = False


class NetworkError(SDKError):
    retryable = True


class StreamError(SDKError):
    retryable = True


class InvalidToolCallError(SDKError):
    retryable = False


class UnsupportedToolChoiceError(SDKError):
    retryable = False


class NoObjectGeneratedError(SDKError):
    retryable = False

    def __init__(self, message: str, *, text: str = "", cause: BaseException | None = None) -> None:
        super().__init__(message, cause=cause)
        self.text = text


class ConfigurationError(SDKError):
    retryable = False


class BudgetExceededError(SDKError):
    """A budget middleware refused the call before it was sent (see llm.middleware)."""

    retryable = False


_BY_STATUS: dict[int, type[SDKError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    403: AccessDeniedError,
    404: NotFoundError,
    408: RequestTimeoutError,
    413: ContextLengthError,
    422: InvalidRequestError,
    429: RateLimitError,
}

_BY_GRPC: dict[str, type[SDKError]] = {
    "NOT_FOUND": NotFoundError,
    "INVALID_ARGUMENT": InvalidRequestError,
    "UNAUTHENTICATED": AuthenticationError,
    "PERMISSION_DENIED": AccessDeniedError,
    "RESOURCE_EXHAUSTED": RateLimitError,
    "UNAVAILABLE": ServerError,
    "DEADLINE_EXCEEDED": RequestTimeoutError,
    "INTERNAL": ServerError,
}

# Message signals for ambiguous statuses (spec 6.5), checked in this order.
_BY_MESSAGE: tuple[tuple[tuple[str, ...], type[SDKError]], ...] = (
    (
        ("context length", "context_length", "too many tokens", "maximum context", "prompt is too long"),
        ContextLengthError,
    ),
    (("quota", "insufficient_quota", "billing"), QuotaExceededError),
    (("content filter", "content_filter", "safety"), ContentFilterError),
    (("not found", "does not exist"), NotFoundError),
    (("unauthorized", "invalid key", "invalid api key", "invalid x-api-key"), AuthenticationError),
)


def classify(status: int | None, message: str, grpc_status: str | None = None) -> type[SDKError]:
    """The error class for an HTTP status, a gRPC status name and the message text."""
    text = message.lower()
    if status == 429:  # OpenAI reports an exhausted quota as a 429 too; that one will not heal
        quota = any(n in text for n in ("insufficient_quota", "exceeded your current quota", "billing"))
        return QuotaExceededError if quota else RateLimitError
    if status in (None, 400):  # ambiguous: the message (then the gRPC status) decides
        for needles, cls in _BY_MESSAGE:
            if any(n in text for n in needles):
                return cls
        if grpc_status in _BY_GRPC:
            return _BY_GRPC[grpc_status]
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status is not None and status >= 500:
        return ServerError
    return ProviderError


def error_from_status(
    *,
    provider: str,
    status: int | None,
    message: str,
    error_code: str | None = None,
    retry_after: float | None = None,
    raw: dict[str, Any] | None = None,
    grpc_status: str | None = None,
) -> SDKError:
    """Build the right error for a provider failure (spec 6.4 / 6.5 / 7.6)."""
    cls = classify(status, message, grpc_status)
    if issubclass(cls, ProviderError):
        return cls(
            message,
            provider=provider,
            status_code=status,
            error_code=error_code,
            retry_after=retry_after,
            raw=raw,
        )
    err = cls(f"{provider} {status}: {message}" if status else f"{provider}: {message}")
    err.retry_after = retry_after
    return err
