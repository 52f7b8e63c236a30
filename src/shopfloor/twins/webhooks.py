"""Outgoing webhooks: a twin's events POSTed as JSON to subscriber URLs.

Deliveries run on one background thread, in order, so a slow subscriber never
slows the twin's API. Each attempt is recorded in `deliveries` (bounded) for
assertions. A delivery that fails is not retried (the twin's subscribers are
local test services; a retry would hide their bugs).
"""

from __future__ import annotations

import json
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
        self._queue: queue.Queue[tuple[str, str, bytes, dict[str, str]]] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def send(self, url: str, event: str, payload: Any, headers: dict[str, str] | None = None) -> None:
        """Queue a JSON POST of `payload`."""
        self.send_body(url, event, json.dumps(payload).encode(), headers or {})

    def send_body(self, url: str, event: str, body: bytes, headers: dict[str, str]) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="twin-webhooks", daemon=True)
                self._thread.start()
        self._queue.put((url, event, body, {"Content-Type": "application/json", **headers}))

    def wait_idle(self, timeout_s: float = DEFAULT_WEBHOOK_TIMEOUT_S) -> bool:
        """Block until every queued delivery was attempted (for tests)."""
        done = threading.Event()
        threading.Thread(target=lambda: (self._queue.join(), done.set()), daemon=True).start()
        return done.wait(timeout_s)

    def _run(self) -> None:
        with httpx.Client(timeout=self.timeout_s) as client:
            while True:
                url, event, body, headers = self._queue.get()
                record: dict[str, Any] = {"url": url, "event": event, "status": None}
                try:
                    record["status"] = client.post(url, content=body, headers=headers).status_code
                except httpx.HTTPError as exc:
                    record["error"] = f"{type(exc).__name__}: {exc}"
                self.deliveries.append(record)
                self._queue.task_done()
