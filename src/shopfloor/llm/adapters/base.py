"""What every native HTTP adapter shares: its provider name, one HttpTransport, closing it, and
which tool-choice modes it accepts. Each adapter adds only its own headers and wire translation."""

from __future__ import annotations

import httpx

from shopfloor.llm.http import HttpTransport
from shopfloor.llm.types import AdapterTimeout

# The unified tool-choice modes (spec 5.3); every native provider API can express all four.
ALL_TOOL_CHOICE_MODES: tuple[str, ...] = ("auto", "none", "required", "named")


class HttpAdapter:
    tool_choice_modes: tuple[str, ...] = ALL_TOOL_CHOICE_MODES

    def __init__(
        self,
        name: str,
        base_url: str,
        headers: dict[str, str],
        timeout: AdapterTimeout | None,
        http_client: httpx.Client | None,
    ) -> None:
        self.name = name
        self.http = HttpTransport(name, base_url, headers, timeout, http_client)

    def close(self) -> None:
        self.http.close()

    def supports_tool_choice(self, mode: str) -> bool:
        return mode in self.tool_choice_modes
