"""An append-only, hash-chained JSONL event log.

Every line is `{"data", "kind", "prev", "seq", "ts", "hash"}`: the canonical JSON
(sorted keys, compact) of a record, `prev` included, followed by `hash`, the
sha256 of exactly that canonical JSON. Editing or
dropping any earlier line breaks the chain, which `verify` reports. A torn last
line (kill -9 mid-write) is ignored on reopen and overwritten, so a crashed log
is always resumable.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GENESIS = "0" * 64


def _body(seq: int, ts: float, kind: str, data: Any, prev: str) -> str:
    """The canonical JSON of a record without its hash: what the hash is taken over."""
    return json.dumps({"seq": seq, "ts": ts, "kind": kind, "data": data, "prev": prev},
                      sort_keys=True, separators=(",", ":"), default=str)


def _digest(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()


def _line(body: str, digest: str) -> str:
    """A log line is the hashed body with the hash appended, so a record is encoded once."""
    return f'{body[:-1]},"hash":"{digest}"}}'


@dataclass(frozen=True)
class EventRecord:
    seq: int
    ts: float
    kind: str
    data: dict[str, Any]
    prev: str
    hash: str

    def to_json(self) -> str:
        return _line(_body(self.seq, self.ts, self.kind, self.data, self.prev), self.hash)


class ChainError(ValueError):
    """The log was edited, truncated in the middle, or reordered."""


def read_events(path: Path | str) -> Iterator[EventRecord]:
    """Yield the complete records of a log; a torn final line is skipped."""
    path = Path(path)
    if not path.exists():
        return
    with path.open("rb") as fh:
        for raw in fh:
            if not raw.endswith(b"\n"):
                return  # torn tail from a crash mid-write
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError:
                return
            yield EventRecord(obj["seq"], obj["ts"], obj["kind"], obj.get("data", {}),
                              obj["prev"], obj["hash"])


def verify(path: Path | str) -> int:
    """Check the whole chain; return the number of records or raise ChainError."""
    prev, count = GENESIS, 0
    for rec in read_events(path):
        if rec.seq != count or rec.prev != prev:
            raise ChainError(f"{path}: event {count} does not follow event {count - 1}")
        if _digest(_body(rec.seq, rec.ts, rec.kind, rec.data, rec.prev)) != rec.hash:
            raise ChainError(f"{path}: event {rec.seq} was modified (hash mismatch)")
        prev, count = rec.hash, count + 1
    return count


class EventLog:
    """Appends records to `path`, continuing the chain of whatever is already there."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._seq, self._prev, good_bytes = 0, GENESIS, 0
        for rec in read_events(self.path):
            self._seq, self._prev = rec.seq + 1, rec.hash
            good_bytes += len(rec.to_json().encode()) + 1
        self._fh = self.path.open("ab")
        if self._fh.tell() != good_bytes:  # drop a torn tail so the next append starts a clean line
            self._fh.truncate(good_bytes)
            self._fh.seek(good_bytes)

    def append(self, kind: str, data: dict[str, Any] | None = None) -> EventRecord:
        data = data or {}
        with self._lock:
            ts = time.time()
            body = _body(self._seq, ts, kind, data, self._prev)
            rec = EventRecord(self._seq, ts, kind, data, self._prev, _digest(body))
            self._fh.write(_line(body, rec.hash).encode() + b"\n")
            self._seq, self._prev = rec.seq + 1, rec.hash
        return rec

    def flush(self, *, durable: bool = True) -> None:
        """Push buffered records to the OS, and to disk when `durable`."""
        with self._lock:
            self._fh.flush()
            if durable:
                os.fsync(self._fh.fileno())

    def close(self) -> None:
        with self._lock:
            if not self._fh.closed:
                self._fh.flush()
                os.fsync(self._fh.fileno())
                self._fh.close()
