"""The session's event stream (coding-agent-loop-spec 2.9).

Every agent action becomes a `SessionEvent`. Hosts receive them two ways: a
listener callback (called synchronously, in order — the brake and the run's
events.jsonl use this) and an iterator over a session's events (`Session.events()`).
`to_dict()` gives the JSON-safe form appended to a run's events.jsonl.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class EventKind(StrEnum):
    SESSION_START = "session_start"
    SESSION_END = "session_end"
    USER_INPUT = "user_input"
    PROCESSING_END = "processing_end"
    ASSISTANT_TEXT_START = "assistant_text_start"
    ASSISTANT_TEXT_DELTA = "assistant_text_delta"
    ASSISTANT_TEXT_END = "assistant_text_end"
    TOOL_CALL_START = "tool_call_start"
    TOOL_CALL_OUTPUT_DELTA = "tool_call_output_delta"
    TOOL_CALL_END = "tool_call_end"
    STEERING_INJECTED = "steering_injected"
    TURN_LIMIT = "turn_limit"
    LOOP_DETECTION = "loop_detection"
    WARNING = "warning"
    ERROR = "error"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _json_safe(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if hasattr(value, "model_dump"):
        return _json_safe(value.model_dump(mode="json"))
    return str(value)


@dataclass(frozen=True)
class SessionEvent:
    kind: EventKind
    session_id: str
    data: dict[str, Any] = field(default_factory=dict)
    timestamp: str = field(default_factory=_now)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "timestamp": self.timestamp,
            "session_id": self.session_id,
            "data": _json_safe(self.data),
        }


EventListener = Callable[[SessionEvent], None]

_CLOSED = object()


class EventEmitter:
    """Fans events out to listeners and to any open iterators, in emission order."""

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        self._listeners: list[EventListener] = []
        self._subscribers: list[queue.SimpleQueue[Any]] = []
        # Re-entrant: a listener may emit (e.g. abort the session from inside an event handler).
        self._lock = threading.RLock()
        self._closed = False

    def add_listener(self, listener: EventListener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: EventListener) -> None:
        with self._lock:
            self._listeners.remove(listener)

    def emit(self, kind: EventKind, **data: Any) -> SessionEvent:
        event = SessionEvent(kind, self.session_id, data)
        self.deliver(event)
        return event

    def deliver(self, event: SessionEvent) -> None:
        """Hand an event (this session's, or a subagent's) to every listener and open iterator."""
        # One lock across delivery keeps every listener's view in the same order.
        with self._lock:
            if self._closed:
                return
            for listener in list(self._listeners):
                listener(event)
            for sub in self._subscribers:
                sub.put(event)

    def subscribe(self) -> Iterator[SessionEvent]:
        """Iterate over events emitted from now on; the iterator ends when the emitter closes."""
        sub: queue.SimpleQueue[Any] = queue.SimpleQueue()
        with self._lock:
            if self._closed:
                return iter(())
            self._subscribers.append(sub)

        def iterate() -> Iterator[SessionEvent]:
            try:
                while (item := sub.get()) is not _CLOSED:
                    yield item
            finally:
                with self._lock:
                    if sub in self._subscribers:
                        self._subscribers.remove(sub)

        return iterate()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for sub in self._subscribers:
                sub.put(_CLOSED)
