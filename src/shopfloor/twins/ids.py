"""Deterministic identifiers: the same seed and the same calls give the same ids.

Vendors' ids look random (Slack `C04J3TQ1F7N`, Okta `00u1ab2cd3EF4gh5i6j7`), and
clients sometimes depend on their shape, so ids are drawn from a hash of
(seed, prefix, counter) rather than printed as plain counters.
"""

from __future__ import annotations

import hashlib
import string
import threading
from typing import Any

ALPHANUMERIC_UPPER = string.digits + string.ascii_uppercase
ALPHANUMERIC = string.digits + string.ascii_letters


class IdFactory:
    def __init__(self, seed: int | str = 0) -> None:
        self.seed = str(seed)
        self._counters: dict[str, int] = {}
        self._lock = threading.Lock()

    def _next_count(self, prefix: str) -> int:
        with self._lock:
            n = self._counters.get(prefix, 0) + 1
            self._counters[prefix] = n
            return n

    def next(self, prefix: str, length: int = 10, alphabet: str = ALPHANUMERIC_UPPER) -> str:
        """`prefix` followed by `length` characters of `alphabet`, unique per (seed, prefix)."""
        n = self._next_count(prefix)
        digest = int.from_bytes(hashlib.sha256(f"{self.seed}:{prefix}:{n}".encode()).digest(), "big")
        chars = []
        for _ in range(length):
            digest, rem = divmod(digest, len(alphabet))
            chars.append(alphabet[rem])
        return prefix + "".join(chars)

    def next_int(self, kind: str, start: int = 1) -> int:
        """A plain increasing number per kind (Jira issue ids and keys are sequential)."""
        return start + self._next_count(kind) - 1

    def reset(self) -> None:
        with self._lock:
            self._counters.clear()

    def dump(self) -> dict[str, Any]:
        with self._lock:
            return {"seed": self.seed, "counters": dict(self._counters)}

    def load(self, data: dict[str, Any]) -> None:
        with self._lock:
            self.seed = str(data.get("seed", self.seed))
            self._counters = {str(k): int(v) for k, v in data.get("counters", {}).items()}
