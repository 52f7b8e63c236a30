"""The request journal: what each twin was asked, and what it answered.

Tests assert on it ("exactly one message was posted to #deploys"), and chaos
records the fault it injected on the entry. It is a bounded ring
(DEFAULT_JOURNAL_MAX_ENTRIES) and bodies are cut at DEFAULT_JOURNAL_BODY_LIMIT.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

DEFAULT_JOURNAL_MAX_ENTRIES = 10_000
DEFAULT_JOURNAL_BODY_LIMIT = 64 * 1024


def _text(body: bytes, limit: int) -> str:
    return body[:limit].decode("utf-8", errors="replace")


@dataclass
class JournalEntry:
    seq: int
    time: float
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: str
    status: int | None = None
    response_body: str = ""
    fault: str | None = None
    duration_ms: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def json(self) -> Any:
        """The request body parsed as JSON (None when it is not JSON)."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Journal:
    def __init__(
        self, max_entries: int = DEFAULT_JOURNAL_MAX_ENTRIES, body_limit: int = DEFAULT_JOURNAL_BODY_LIMIT
    ) -> None:
        self._entries: deque[JournalEntry] = deque(maxlen=max_entries)
        self._seq = 0
        self._lock = threading.Lock()
        self.body_limit = body_limit

    def record(
        self, *, time: float, method: str, path: str, query: str, headers: dict[str, str], body: bytes
    ) -> JournalEntry:
        with self._lock:
            self._seq += 1
            entry = JournalEntry(
                seq=self._seq,
                time=time,
                method=method,
                path=path,
                query=query,
                headers=headers,
                body=_text(body, self.body_limit),
            )
            self._entries.append(entry)
            return entry

    def finish(self, entry: JournalEntry, *, status: int | None, body: bytes, duration_ms: float) -> None:
        entry.status = status
        entry.response_body = _text(body, self.body_limit)
        entry.duration_ms = duration_ms

    def entries(self, *, method: str | None = None, path: str | None = None) -> list[JournalEntry]:
        """Entries in arrival order, optionally only those with this method and/or exact path."""
        with self._lock:
            items = list(self._entries)
        return [
            e
            for e in items
            if (method is None or e.method == method.upper()) and (path is None or e.path == path)
        ]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
