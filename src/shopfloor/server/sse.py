"""A replayable event feed for Server-Sent Events.

The engine emits on its own thread; each SSE client is an asyncio task. The
feed keeps every event of the run (so a client that connects late, or
reconnects with Last-Event-ID, misses nothing) and wakes subscribers through
their own event loop.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator
from typing import Any

from shopfloor.server.settings import DEFAULT_SSE_HEARTBEAT_S


class EventFeed:
    def __init__(self) -> None:
        self._events: list[dict[str, Any]] = []
        self._closed = False
        self._subscribers: list[tuple[asyncio.AbstractEventLoop, asyncio.Queue[None]]] = []
        self._lock = threading.Lock()

    def publish(self, kind: str, data: dict[str, Any]) -> None:
        with self._lock:
            self._events.append({"seq": len(self._events) + 1, "kind": kind, "data": data})
            self._wake()

    def close(self) -> None:
        """No more events: streams end once they have sent everything."""
        with self._lock:
            self._closed = True
            self._wake()

    def _wake(self) -> None:
        for loop, queue in self._subscribers:
            loop.call_soon_threadsafe(queue.put_nowait, None)

    def since(self, seq: int) -> tuple[list[dict[str, Any]], bool]:
        with self._lock:
            return self._events[seq:], self._closed

    async def stream(self, after: int = 0,
                     heartbeat_s: float = DEFAULT_SSE_HEARTBEAT_S) -> AsyncIterator[str]:
        """SSE frames for events with seq > `after`, live until the feed closes."""
        queue: asyncio.Queue[None] = asyncio.Queue()
        entry = (asyncio.get_running_loop(), queue)
        with self._lock:
            self._subscribers.append(entry)
        try:
            sent = after
            while True:
                events, closed = self.since(sent)
                for event in events:
                    sent = event["seq"]
                    yield f"id: {sent}\nevent: {event['kind']}\ndata: {json.dumps(event, default=str)}\n\n"
                if closed:
                    yield "event: end\ndata: {}\n\n"
                    return
                try:
                    await asyncio.wait_for(queue.get(), timeout=heartbeat_s)
                except TimeoutError:
                    yield ": keep-alive\n\n"
        finally:
            with self._lock:
                self._subscribers.remove(entry)
