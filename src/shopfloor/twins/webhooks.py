"""Outgoing webhooks: a twin's events POSTed as JSON to subscriber URLs.

Deliveries run on one background thread, in order, so a slow subscriber never
slows the twin's API. Each attempt is recorded in `deliveries` (bounded) for
assertions. A delivery that fails is not retried (the twin's subscribers are
local test services; a retry would hide their bugs).
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from typing import Any

import httpx

DEFAULT_WEBHOOK_TIMEOUT_S = 5.0
DEFAULT_MAX_DELIVERIES_KEPT = 1000


class WebhookSender:
    def __init__(self, timeout_s: float = DEFAULT_WEBHOOK_TIMEOUT_S) -> None:
        self.timeout_s = timeout_s
        self.deliveries: deque[dict[str, Any]] = deque(maxlen=DEFAULT_MAX_DELIVERIES_KEPT)
        self._queue: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def send(self, url: str, payload: dict[str, Any]) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="twin-webhooks", daemon=True)
                self._thread.start()
        self._queue.put((url, payload))

    def wait_idle(self, timeout_s: float = DEFAULT_WEBHOOK_TIMEOUT_S) -> bool:
        """Block until every queued delivery was attempted (for tests)."""
        done = threading.Event()
        threading.Thread(target=lambda: (self._queue.join(), done.set()), daemon=True).start()
        return done.wait(timeout_s)

    def _run(self) -> None:
        with httpx.Client(timeout=self.timeout_s) as client:
            while True:
                url, payload = self._queue.get()
                record: dict[str, Any] = {"url": url, "event": payload.get("webhookEvent"), "status": None}
                try:
                    record["status"] = client.post(url, json=payload).status_code
                except httpx.HTTPError as exc:
                    record["error"] = f"{type(exc).__name__}: {exc}"
                self.deliveries.append(record)
                self._queue.task_done()
