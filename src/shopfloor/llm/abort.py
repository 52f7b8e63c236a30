"""Cooperative cancellation (spec 4.7): an AbortController hands out an AbortSignal.

The signal is thread-safe. Blocking work registers a listener (to close a socket,
wake a waiter) and checks `aborted`; whoever sees it raises `AbortError`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import TypeVar

from shopfloor.llm.errors import AbortError

T = TypeVar("T")


class AbortSignal:
    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []
        self.reason = "aborted"

    @property
    def aborted(self) -> bool:
        return self._event.is_set()

    def add_listener(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call `listener` on abort (at once if already aborted); returns a function that unregisters it."""
        with self._lock:
            fire_now = self._event.is_set()
            if not fire_now:
                self._listeners.append(listener)
        if fire_now:
            listener()

        def remove() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return remove

    def wait(self, timeout: float | None) -> bool:
        """Sleep up to `timeout` seconds; True as soon as the signal is aborted."""
        return self._event.wait(timeout)

    def raise_if_aborted(self) -> None:
        if self._event.is_set():
            raise AbortError(f"request cancelled: {self.reason}")

    def _fire(self, reason: str) -> None:
        with self._lock:
            if self._event.is_set():
                return
            self.reason = reason
            self._event.set()
            listeners, self._listeners = self._listeners, []
        for listener in listeners:
            with contextlib.suppress(Exception):  # one failing listener must not stop the others
                listener()


class AbortController:
    def __init__(self) -> None:
        self.signal = AbortSignal()

    def abort(self, reason: str = "aborted") -> None:
        self.signal._fire(reason)


def run_abortable(fn: Callable[[], T], signal: AbortSignal | None) -> T:
    """Run blocking `fn`; with a signal, run it on a worker thread so that abort returns at once.

    The worker finishes (or times out) on its own; its result is dropped.
    """
    if signal is None:
        return fn()
    signal.raise_if_aborted()
    done = threading.Event()
    box: dict[str, object] = {}

    def work() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed back to the caller below
            box["error"] = exc
        done.set()

    remove = signal.add_listener(done.set)
    threading.Thread(target=work, name="llm-abortable", daemon=True).start()
    try:
        done.wait()
    finally:
        remove()
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    if "value" not in box:
        signal.raise_if_aborted()
    return box["value"]  # type: ignore[return-value]
