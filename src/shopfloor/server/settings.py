"""`[server]` in shopfloor.toml: the server's limits, each with a documented default."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

#: Runs that may execute at once; more are refused with 429.
DEFAULT_MAX_CONCURRENT_RUNS = 8
#: Largest request body accepted (a DOT file or an answer).
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
#: Seconds between keep-alive comments on an idle SSE stream (proxies drop silent connections).
DEFAULT_SSE_HEARTBEAT_S = 15.0
#: On shutdown, how long stopped runs get to checkpoint and end.
DEFAULT_SHUTDOWN_GRACE_S = 10.0


class ServerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_runs: int = Field(DEFAULT_MAX_CONCURRENT_RUNS, ge=1)
    max_body_bytes: int = Field(DEFAULT_MAX_BODY_BYTES, ge=1024)
    sse_heartbeat_s: float = Field(DEFAULT_SSE_HEARTBEAT_S, gt=0)
    shutdown_grace_s: float = Field(DEFAULT_SHUTDOWN_GRACE_S, ge=0)
