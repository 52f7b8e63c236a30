"""Layer 1, the provider specification (spec 2.4 / 7.1): what every adapter implements."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

from shopfloor.llm.http import CallOptions
from shopfloor.llm.types import Request, Response, StreamEvent


@runtime_checkable
class ProviderAdapter(Protocol):
    name: str

    def complete(self, request: Request, options: CallOptions) -> Response:
        """Send the request and return the whole response."""
        ...

    def stream(self, request: Request, options: CallOptions) -> Iterator[StreamEvent]:
        """Send the request and yield unified stream events, ending with FINISH.

        HTTP errors are raised before the first event; a failure after that raises
        StreamError (the client turns it into an ERROR event).
        """
        ...

    def close(self) -> None: ...

    def supports_tool_choice(self, mode: str) -> bool: ...
