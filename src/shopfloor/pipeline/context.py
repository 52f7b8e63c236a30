"""The run's shared key-value store (attractor-spec 5.1)."""

from __future__ import annotations

import copy
import threading
from typing import Any


class Context:
    """Thread-safe; parallel branches work on `clone()`s and merge back explicitly."""

    def __init__(self, values: dict[str, Any] | None = None, logs: list[str] | None = None) -> None:
        self._values: dict[str, Any] = dict(values or {})
        self._logs: list[str] = list(logs or [])
        self._lock = threading.RLock()

    def set(self, key: str, value: Any) -> None:
        with self._lock:
            self._values[key] = value

    def get(self, key: str, default: Any = None) -> Any:
        with self._lock:
            return self._values.get(key, default)

    def get_string(self, key: str, default: str = "") -> str:
        value = self.get(key)
        return default if value is None else str(value)

    def append_log(self, entry: str) -> None:
        with self._lock:
            self._logs.append(entry)

    @property
    def logs(self) -> list[str]:
        with self._lock:
            return list(self._logs)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._values)

    def view(self) -> dict[str, Any]:
        """A shallow copy, for reading or encoding at once: the per-node paths skip snapshot()'s deep copy."""
        with self._lock:
            return dict(self._values)

    def clone(self) -> Context:
        with self._lock:
            return Context(copy.deepcopy(self._values), list(self._logs))

    def apply_updates(self, updates: dict[str, Any]) -> None:
        with self._lock:
            self._values.update(updates)
