"""A controllable clock, so twin timestamps are reproducible.

Twins read time only through `TwinClock.now()`. By default the clock is frozen at
DEFAULT_EPOCH and moves only when a test (or `/_twin/clock`) advances or sets it;
`ticking=True` makes it follow the wall clock from its start instant instead.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

#: 2024-01-01T00:00:00Z: the instant a fresh twin believes it is.
DEFAULT_EPOCH = 1704067200.0


class TwinClock:
    def __init__(self, start: float = DEFAULT_EPOCH, *, ticking: bool = False) -> None:
        self._lock = threading.Lock()
        self._initial = (start, ticking)
        self._base = start
        self._ticking = ticking
        self._anchor = time.monotonic()

    def now(self) -> float:
        with self._lock:
            if self._ticking:
                return self._base + (time.monotonic() - self._anchor)
            return self._base

    def now_datetime(self) -> datetime:
        return datetime.fromtimestamp(self.now(), tz=UTC)

    def advance(self, seconds: float) -> float:
        with self._lock:
            self._base += seconds
        return self.now()

    def set(self, epoch: float, *, ticking: bool | None = None) -> float:
        with self._lock:
            self._base = epoch
            self._anchor = time.monotonic()
            if ticking is not None:
                self._ticking = ticking
        return self.now()

    def reset(self) -> None:
        start, ticking = self._initial
        self.set(start, ticking=ticking)

    def dump(self) -> dict[str, Any]:
        return {"now": self.now(), "ticking": self._ticking}

    def load(self, data: dict[str, Any]) -> None:
        self.set(float(data["now"]), ticking=bool(data.get("ticking", False)))
