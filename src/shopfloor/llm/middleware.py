"""Middleware (spec 2.3): cross-cutting concerns wrapped around every provider call.

A middleware sees the request (with its provider resolved) before it is sent and
the response (with its usage and cost) after; for streams it wraps the event
iterator. The first registered runs first on the way in and last on the way out.

Three ship here because other layers build on them:
- `BudgetMiddleware` asks a `BudgetHook` to reserve the estimated cost before
  sending (the hook refuses by raising `BudgetExceededError`) and settles the
  actual cost afterwards (govern.budget implements the hook);
- `TracingMiddleware` opens an OpenTelemetry span per call with the gen_ai
  semantic-convention attributes;
- `CallbackMiddleware` calls plain functions on request, response and error.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from shopfloor.llm.catalog import Catalog, default_catalog
from shopfloor.llm.types import Request, Response, StreamEvent, StreamEventType, Usage

CompleteNext = Callable[[Request], Response]
StreamNext = Callable[[Request], Iterator[StreamEvent]]


class Middleware:
    """Pass-through base; override `complete`, `stream` or both."""

    def complete(self, request: Request, call_next: CompleteNext) -> Response:
        return call_next(request)

    def stream(self, request: Request, call_next: StreamNext) -> Iterator[StreamEvent]:
        return call_next(request)


class FunctionMiddleware(Middleware):
    """Adapts the spec's `fn(request, next) -> response` form (non-streaming calls only)."""

    def __init__(self, fn: Callable[[Request, CompleteNext], Response]) -> None:
        self.fn = fn

    def complete(self, request: Request, call_next: CompleteNext) -> Response:
        return self.fn(request, call_next)


def as_middleware(item: Middleware | Callable[[Request, CompleteNext], Response]) -> Middleware:
    return item if isinstance(item, Middleware) else FunctionMiddleware(item)


def _finish_response(event: StreamEvent) -> Response | None:
    return event.response if event.type == StreamEventType.FINISH else None


class BudgetHook(Protocol):
    def reserve(self, request: Request, estimated_cost_usd: float) -> Any:
        """Hold the estimate, or raise BudgetExceededError to refuse the call before it is sent."""
        ...

    def settle(self, reservation: Any, cost_usd: float, usage: Usage | None) -> None:
        """Replace the held estimate with the actual cost (0 and no usage when the call failed)."""
        ...


class BudgetMiddleware(Middleware):
    def __init__(self, hook: BudgetHook, catalog: Catalog | None = None) -> None:
        self.hook = hook
        self.catalog = catalog or default_catalog()

    def _reserve(self, request: Request) -> Any:
        return self.hook.reserve(request, self.catalog.estimate_cost(request, request.provider or ""))

    def complete(self, request: Request, call_next: CompleteNext) -> Response:
        reservation = self._reserve(request)
        try:
            response = call_next(request)
        except BaseException:
            self.hook.settle(reservation, 0.0, None)
            raise
        self.hook.settle(reservation, response.cost_usd, response.usage)
        return response

    def stream(self, request: Request, call_next: StreamNext) -> Iterator[StreamEvent]:
        reservation = self._reserve(request)
        settled = False
        try:
            for event in call_next(request):
                if (final := _finish_response(event)) is not None and not settled:
                    settled = True
                    self.hook.settle(reservation, final.cost_usd, final.usage)
                yield event
        finally:
            if not settled:
                self.hook.settle(reservation, 0.0, None)


class TracingMiddleware(Middleware):
    """One CLIENT span per LLM call, named `chat {model}`, with gen_ai.* attributes."""

    def __init__(self, tracer: Any | None = None) -> None:
        from opentelemetry import trace

        self._trace = trace
        self.tracer = tracer or trace.get_tracer("shopfloor.llm")

    def _start(self, request: Request) -> Any:
        span = self.tracer.start_span(f"chat {request.model}", kind=self._trace.SpanKind.CLIENT)
        attrs: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": request.provider or "",
            "gen_ai.system": request.provider or "",
            "gen_ai.request.model": request.model,
        }
        for field, key in (
            ("max_tokens", "gen_ai.request.max_tokens"),
            ("temperature", "gen_ai.request.temperature"),
            ("top_p", "gen_ai.request.top_p"),
        ):
            if (value := getattr(request, field)) is not None:
                attrs[key] = value
        if request.stop_sequences:
            attrs["gen_ai.request.stop_sequences"] = request.stop_sequences
        span.set_attributes(attrs)
        return span

    def _end(self, span: Any, response: Response | None, error: BaseException | None) -> None:
        if response is not None:
            usage = response.usage
            attrs: dict[str, Any] = {
                "gen_ai.response.id": response.id,
                "gen_ai.response.model": response.model,
                "gen_ai.response.finish_reasons": [response.finish_reason.reason],
                "gen_ai.usage.input_tokens": usage.input_tokens,
                "gen_ai.usage.output_tokens": usage.output_tokens,
                "shopfloor.llm.cost_usd": response.cost_usd,
            }
            for field in ("reasoning_tokens", "cache_read_tokens", "cache_write_tokens"):
                if (value := getattr(usage, field)) is not None:
                    attrs[f"shopfloor.llm.usage.{field}"] = value
            span.set_attributes(attrs)
        if error is not None:
            span.set_attribute("error.type", type(error).__name__)
            span.record_exception(error)
            span.set_status(self._trace.Status(self._trace.StatusCode.ERROR, str(error)))
        span.end()

    def complete(self, request: Request, call_next: CompleteNext) -> Response:
        span = self._start(request)
        try:
            with self._trace.use_span(span, end_on_exit=False):
                response = call_next(request)
        except BaseException as exc:
            self._end(span, None, exc)
            raise
        self._end(span, response, None)
        return response

    def stream(self, request: Request, call_next: StreamNext) -> Iterator[StreamEvent]:
        span = self._start(request)
        final: Response | None = None
        error: BaseException | None = None
        try:
            for event in call_next(request):
                final = _finish_response(event) or final
                if event.type == StreamEventType.ERROR and event.error is not None:
                    error = event.error
                yield event
        except BaseException as exc:
            error = exc
            raise
        finally:
            self._end(span, final, error)


class CallbackMiddleware(Middleware):
    """Calls `on_request(request)`, `on_response(request, response, seconds)`, `on_error(request, error)`."""

    def __init__(
        self,
        on_request: Callable[[Request], None] | None = None,
        on_response: Callable[[Request, Response, float], None] | None = None,
        on_error: Callable[[Request, BaseException], None] | None = None,
    ) -> None:
        self.on_request, self.on_response, self.on_error = on_request, on_response, on_error

    def complete(self, request: Request, call_next: CompleteNext) -> Response:
        if self.on_request:
            self.on_request(request)
        started = time.perf_counter()
        try:
            response = call_next(request)
        except BaseException as exc:
            if self.on_error:
                self.on_error(request, exc)
            raise
        if self.on_response:
            self.on_response(request, response, time.perf_counter() - started)
        return response

    def stream(self, request: Request, call_next: StreamNext) -> Iterator[StreamEvent]:
        if self.on_request:
            self.on_request(request)
        started = time.perf_counter()
        try:
            for event in call_next(request):
                if (final := _finish_response(event)) is not None and self.on_response:
                    self.on_response(request, final, time.perf_counter() - started)
                if event.type == StreamEventType.ERROR and event.error is not None and self.on_error:
                    self.on_error(request, event.error)
                yield event
        except BaseException as exc:
            if self.on_error:
                self.on_error(request, exc)
            raise
