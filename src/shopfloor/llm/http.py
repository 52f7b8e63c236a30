"""Provider utilities (spec layer 2): one httpx client per adapter, error and header translation.

Adapters describe *what* to send; this module sends it, turns HTTP failures into
the error taxonomy (with Retry-After), reads rate-limit headers, applies the
adapter timeouts and wires the abort signal to the connection.
"""

from __future__ import annotations

import contextlib
import email.utils
import functools
import json
import re
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from shopfloor.llm.abort import AbortSignal, run_abortable
from shopfloor.llm.errors import (
    AbortError,
    NetworkError,
    RequestTimeoutError,
    SDKError,
    StreamError,
    error_from_status,
)
from shopfloor.llm.sse import SSEEvent, parse_sse
from shopfloor.llm.types import AdapterTimeout, RateLimitInfo

# Connections kept open per adapter; agent sessions run several calls in parallel (subagents).
DEFAULT_MAX_CONNECTIONS = 20


@dataclass(slots=True)
class CallOptions:
    """Per-call knobs the client passes to an adapter: a timeout override and a cancellation signal."""

    timeout: float | None = None
    abort_signal: AbortSignal | None = None


def join_url(base: str, path: str) -> str:
    return base.rstrip("/") + "/" + path.lstrip("/")


def parse_retry_after(headers: httpx.Headers) -> float | None:
    """Seconds to wait from `retry-after-ms`, `retry-after` (seconds or HTTP date)."""
    if (ms := headers.get("retry-after-ms")) is not None:
        with contextlib.suppress(ValueError):
            return float(ms) / 1000.0
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    with contextlib.suppress(TypeError, ValueError):
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - time.time())
    return None


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


def _parse_reset(value: str | None) -> float | None:
    """A reset time as a unix timestamp: OpenAI sends durations ("6m0s"), Anthropic RFC 3339 times."""
    if not value:
        return None
    parts = _DURATION_PART.findall(value)
    if parts and "".join(n + u for n, u in parts) == value:
        scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
        return time.time() + sum(float(n) * scale[u] for n, u in parts)
    with contextlib.suppress(ValueError):
        from datetime import datetime

        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    with contextlib.suppress(ValueError):
        return time.time() + float(value)
    return None


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def parse_rate_limit(headers: httpx.Headers) -> RateLimitInfo | None:
    """RateLimitInfo from OpenAI-style `x-ratelimit-*` or Anthropic `anthropic-ratelimit-*` headers."""
    if (
        "x-ratelimit-limit-requests" in headers
        or "x-ratelimit-remaining-requests" in headers
        or "x-ratelimit-remaining-tokens" in headers
    ):
        return RateLimitInfo(
            requests_remaining=_int(headers.get("x-ratelimit-remaining-requests")),
            requests_limit=_int(headers.get("x-ratelimit-limit-requests")),
            tokens_remaining=_int(headers.get("x-ratelimit-remaining-tokens")),
            tokens_limit=_int(headers.get("x-ratelimit-limit-tokens")),
            reset_at=_parse_reset(
                headers.get("x-ratelimit-reset-requests") or headers.get("x-ratelimit-reset-tokens")
            ),
        )
    if "anthropic-ratelimit-requests-limit" in headers or "anthropic-ratelimit-tokens-limit" in headers:
        return RateLimitInfo(
            requests_remaining=_int(headers.get("anthropic-ratelimit-requests-remaining")),
            requests_limit=_int(headers.get("anthropic-ratelimit-requests-limit")),
            tokens_remaining=_int(headers.get("anthropic-ratelimit-tokens-remaining")),
            tokens_limit=_int(headers.get("anthropic-ratelimit-tokens-limit")),
            reset_at=_parse_reset(
                headers.get("anthropic-ratelimit-requests-reset")
                or headers.get("anthropic-ratelimit-tokens-reset")
            ),
        )
    return None


def _gemini_retry_delay(error: dict[str, Any]) -> float | None:
    for detail in error.get("details") or []:
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("RetryInfo"):
            delay = str(detail.get("retryDelay", ""))
            with contextlib.suppress(ValueError):
                return float(delay.rstrip("s"))
    return None


def error_from_response(provider: str, status: int, headers: httpx.Headers, body: bytes) -> SDKError:
    """Translate an HTTP error response of any of the supported providers (spec 7.6)."""
    try:
        payload = json.loads(body) if body else {}
    except ValueError:
        payload = {}
    if isinstance(payload, list) and payload:  # Gemini sometimes wraps the error in a list
        payload = payload[0]
    if not isinstance(payload, dict):
        payload = {}
    error = payload.get("error") if isinstance(payload.get("error"), dict) else {}
    message = str(
        error.get("message")
        or payload.get("message")
        or body.decode("utf-8", "replace")[:500]
        or httpx.codes.get_reason_phrase(status)
    )
    code = error.get("code") if isinstance(error.get("code"), str) else None
    code = code or error.get("type") or error.get("status")
    grpc = error.get("status") if isinstance(error.get("status"), str) else None
    retry_after = parse_retry_after(headers)
    if retry_after is None:
        retry_after = _gemini_retry_delay(error)
    return error_from_status(
        provider=provider,
        status=status,
        message=message,
        error_code=code,
        retry_after=retry_after,
        raw=payload or None,
        grpc_status=grpc,
    )


def _shutdown_socket(response: httpx.Response) -> None:
    """Wake a thread blocked reading this response (closing alone does not interrupt recv)."""
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One TLS context for every adapter: loading the CA bundle costs ~30 ms per client otherwise."""
    return httpx.create_ssl_context()


class HttpTransport:
    """The HTTP side of one adapter: base URL, auth headers, timeouts, connection pool."""

    def __init__(
        self,
        provider: str,
        base_url: str,
        headers: dict[str, str],
        timeout: AdapterTimeout | None = None,
        http_client: httpx.Client | None = None,
    ) -> None:
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout or AdapterTimeout()
        self.headers = headers
        self._owns_client = http_client is None
        self.client = http_client or httpx.Client(
            headers=headers,
            limits=httpx.Limits(max_connections=DEFAULT_MAX_CONNECTIONS),
            verify=_tls_context(),
        )
        if http_client is not None:
            self.client.headers.update(headers)

    def close(self) -> None:
        if self._owns_client:
            self.client.close()

    def _timeout(self, options: CallOptions, streaming: bool) -> httpx.Timeout:
        request = options.timeout or self.timeout.request
        read = min(request, self.timeout.stream_read) if streaming else request
        return httpx.Timeout(request, connect=min(self.timeout.connect, request), read=read)

    def _send(
        self,
        path: str,
        body: dict[str, Any],
        options: CallOptions,
        *,
        stream: bool,
        params: dict[str, str] | None,
        headers: dict[str, str] | None,
    ) -> httpx.Response:
        request = self.client.build_request(
            "POST",
            join_url(self.base_url, path),
            content=json.dumps(body).encode(),
            params=params,
            headers={"content-type": "application/json", **(headers or {})},
            timeout=self._timeout(options, stream),
        )
        try:
            return run_abortable(lambda: self.client.send(request, stream=stream), options.abort_signal)
        except httpx.TimeoutException as exc:
            raise RequestTimeoutError(
                f"{self.provider}: request timed out ({exc.__class__.__name__})", cause=exc
            ) from exc
        except httpx.HTTPError as exc:
            raise NetworkError(f"{self.provider}: cannot reach {self.base_url}: {exc}", cause=exc) from exc

    def _raise_for_status(self, response: httpx.Response) -> None:
        """An HTTP error answer as the error taxonomy; a streamed one is read first for its message."""
        if response.status_code >= 400:
            response.read()
            raise error_from_response(self.provider, response.status_code, response.headers, response.content)

    def post_json(
        self,
        path: str,
        body: dict[str, Any],
        options: CallOptions,
        *,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[dict[str, Any], httpx.Headers]:
        """POST a JSON body and return the decoded JSON answer with the response headers."""
        response = self._send(path, body, options, stream=False, params=params, headers=headers)
        self._raise_for_status(response)
        try:
            payload = response.json()
        except ValueError as exc:
            raise _not_json_error(self.provider, response.text) from exc
        return payload, response.headers

    @contextlib.contextmanager
    def open_stream(
        self,
        path: str,
        body: dict[str, Any],
        options: CallOptions,
        *,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Iterator[httpx.Response]:
        """POST and keep the response open for streaming; errors before the body are raised here."""
        response = self._send(path, body, options, stream=True, params=params, headers=headers)
        remove = (
            options.abort_signal.add_listener(lambda: _shutdown_socket(response))
            if options.abort_signal
            else None
        )
        try:
            self._raise_for_status(response)
            yield response
        finally:
            if remove:
                remove()
            response.close()

    def iter_sse(self, response: httpx.Response, options: CallOptions) -> Iterator[SSEEvent]:
        """The SSE events of an open response; transport failures become StreamError/timeout/abort."""
        signal = options.abort_signal
        try:
            for event in parse_sse(response.iter_lines()):
                if signal is not None and signal.aborted:
                    break
                yield event
        except httpx.TimeoutException as exc:
            if signal is not None and signal.aborted:
                raise AbortError("stream cancelled") from exc
            raise RequestTimeoutError(
                f"{self.provider}: no stream event within {self.timeout.stream_read:g}s", cause=exc
            ) from exc
        except (httpx.HTTPError, OSError) as exc:
            if signal is not None and signal.aborted:
                raise AbortError("stream cancelled") from exc
            raise StreamError(f"{self.provider}: stream broke off: {exc}", cause=exc) from exc
        if signal is not None:
            signal.raise_if_aborted()


def _not_json_error(provider: str, text: str) -> SDKError:
    return error_from_status(
        provider=provider, status=502, message=f"response body is not JSON: {text[:200]!r}"
    )


def decode_event(provider: str, event: SSEEvent) -> dict[str, Any]:
    """The JSON payload of an SSE event; garbage is a StreamError, not a crash."""
    try:
        data = json.loads(event.data)
    except ValueError as exc:
        raise StreamError(f"{provider}: malformed stream event {event.data[:120]!r}", cause=exc) from exc
    if not isinstance(data, dict):
        raise StreamError(f"{provider}: stream event is not a JSON object: {event.data[:120]!r}")
    return data
