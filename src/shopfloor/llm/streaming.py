"""Layer 4, streaming (spec 4.4 / 5.9): `stream()`, StreamResult and StreamAccumulator.

Only opening a stream is retried; once events have flowed a failure arrives as
an ERROR event and then is raised from the iteration. With active tools the
stream runs the tool loop: after each tool step it emits STEP_FINISH and goes
on with the model's next answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Unpack

from shopfloor.llm.errors import SDKError, StreamError
from shopfloor.llm.generation import CallPlan, GenerateOptions, StepResult
from shopfloor.llm.retry import retry
from shopfloor.llm.types import (
    ContentKind,
    ContentPart,
    FinishReason,
    Message,
    Response,
    Role,
    StreamEvent,
    StreamEventType,
    ThinkingData,
    ToolCall,
    ToolCallData,
    Usage,
)


class StreamAccumulator:
    """Collects stream events into the Response that complete() would have returned."""

    def __init__(self) -> None:
        # Deltas are kept as chunk lists and joined once: appending to a growing str per delta is quadratic.
        self._texts: dict[str, list[str]] = {}
        self._reasoning: list[str] = []
        self._calls: list[ToolCall] = []
        self._final: Response | None = None
        self._finish: FinishReason | None = None
        self._usage: Usage | None = None

    def process(self, event: StreamEvent) -> None:
        kind = event.type
        if kind == StreamEventType.TEXT_DELTA:
            self._texts.setdefault(event.text_id or "", []).append(event.delta or "")
        elif kind == StreamEventType.REASONING_DELTA:
            self._reasoning.append(event.reasoning_delta or "")
        elif kind == StreamEventType.TOOL_CALL_END and event.tool_call is not None:
            self._calls.append(event.tool_call)
        elif kind == StreamEventType.FINISH:
            self._final = event.response
            self._finish = event.finish_reason
            self._usage = event.usage

    @property
    def done(self) -> bool:
        return self._final is not None

    def response(self) -> Response:
        """The full response: the provider's own when FINISH carried it, else built from the deltas."""
        if self._final is not None:
            return self._final
        parts: list[ContentPart] = []
        if reasoning := "".join(self._reasoning):
            parts.append(ContentPart(kind=ContentKind.THINKING, thinking=ThinkingData(text=reasoning)))
        parts += [ContentPart.of_text("".join(chunks)) for chunks in self._texts.values()]
        parts += [
            ContentPart(
                kind=ContentKind.TOOL_CALL,
                tool_call=ToolCallData(id=c.id, name=c.name, arguments=c.arguments),
            )
            for c in self._calls
        ]
        return Response(
            message=Message(role=Role.ASSISTANT, content=parts),
            finish_reason=self._finish or FinishReason(reason="other"),
            usage=self._usage or Usage(),
        )


class StreamResult:
    """Iterate it for StreamEvents (once); then `response()` gives the final Response."""

    def __init__(self, events: Iterator[StreamEvent], steps: list[StepResult] | None = None) -> None:
        self._events = events
        self._accumulator = StreamAccumulator()
        self.steps: list[StepResult] = steps if steps is not None else []

    def __iter__(self) -> Iterator[StreamEvent]:
        for event in self._events:
            if event.type == StreamEventType.STEP_FINISH:
                self._accumulator = StreamAccumulator()
            self._accumulator.process(event)
            yield event

    def response(self) -> Response:
        """The final step's Response; drains the stream first if it was not fully read."""
        for _ in self:
            pass
        return self._accumulator.response()

    @property
    def partial_response(self) -> Response | None:
        return self._accumulator.response()

    @property
    def text_stream(self) -> Iterator[str]:
        for event in self:
            if event.type == StreamEventType.TEXT_DELTA and event.delta:
                yield event.delta

    @property
    def total_usage(self) -> Usage:
        total = Usage()
        for step in self.steps:
            total = total + step.usage
        return total

    def close(self) -> None:
        close = getattr(self._events, "close", None)
        if close is not None:
            close()


def _open(plan: CallPlan) -> tuple[StreamEvent, Iterator[StreamEvent]]:
    events = plan.client.stream(plan.request(), timeout=plan.step_timeout(), abort_signal=plan.abort_signal)
    try:
        first = next(events)
    except StopIteration:
        raise StreamError("the stream ended before any event") from None
    return first, events


def _run(plan: CallPlan) -> Iterator[StreamEvent]:
    for _ in range(plan.max_tool_rounds + 1):
        first, events = retry(lambda: _open(plan), plan.policy, abort_signal=plan.abort_signal)
        accumulator = StreamAccumulator()
        for event in _chain(first, events):
            accumulator.process(event)
            yield event
            if event.type == StreamEventType.ERROR:
                raise event.error if isinstance(event.error, SDKError) else StreamError("stream failed")
        if not accumulator.done:
            raise StreamError("the stream ended without a FINISH event")
        response = accumulator.response()
        if not plan.take_step(response):
            return
        yield StreamEvent(
            type=StreamEventType.STEP_FINISH,
            response=response,
            usage=response.usage,
            finish_reason=response.finish_reason,
        )


def _chain(first: StreamEvent, rest: Iterator[StreamEvent]) -> Iterator[StreamEvent]:
    yield first
    yield from rest


def stream(
    model: str | None = None, prompt: str | None = None, **options: Unpack[GenerateOptions]
) -> StreamResult:
    """Like generate(), but events arrive as they are produced."""
    plan = CallPlan(model, prompt, **options)
    return StreamResult(_run(plan), plan.steps)
