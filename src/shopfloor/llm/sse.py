"""Server-Sent Events parsing (spec 7.7): event, data (multi-line), retry, comments, blank lines."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(slots=True)
class SSEEvent:
    event: str  # "message" when the stream names no event type
    data: str
    id: str | None = None
    retry: int | None = None


def parse_sse(lines: Iterable[str]) -> Iterator[SSEEvent]:
    """Turn decoded lines (without line terminators) into events; a blank line ends an event."""
    event = ""
    data: list[str] = []
    last_id: str | None = None
    retry: int | None = None
    for line in lines:
        if not line:
            if data:
                yield SSEEvent(event or "message", "\n".join(data), last_id, retry)
            event, data, retry = "", [], None
            continue
        if line.startswith(":"):
            continue
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
        elif name == "id":
            last_id = value
        elif name == "retry" and value.isdigit():
            retry = int(value)
    if data:  # a stream may end without the final blank line
        yield SSEEvent(event or "message", "\n".join(data), last_id, retry)
