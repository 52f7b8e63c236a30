"""The traffic-splitting reverse proxy in front of a target, with the metrics analysis reads.

Requests go to the canary for exactly `canary_weight` percent of requests
(a deterministic split, so a 10 % canary sees every tenth request rather than
a random share), else to stable. Every proxied request is recorded with its
role, status and latency; a connection failure counts as a 502 error. Each
response carries `X-Shopfloor-Release: <digest>` naming the release that served it.
A fault injected on the canary (`release.fault`) is applied here, to the canary's
share only, and its aborts are recorded like any other 503.
"""

from __future__ import annotations

import asyncio
import bisect
import collections
import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shopfloor.release import http1
from shopfloor.release.fault import FAULT_HEADER, FaultInjector

#: How many recent requests per role the proxy remembers for analysis.
DEFAULT_METRICS_WINDOW = 100_000
#: Upstream timeout for one proxied request.
DEFAULT_UPSTREAM_TIMEOUT_S = 30.0
RELEASE_HEADER = "x-shopfloor-release"
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
                        "trailers", "transfer-encoding", "upgrade", "host", "content-length"})


@dataclass(frozen=True)
class Sample:
    at: float
    status: int
    latency_s: float


class Metrics:
    """Per-role request samples, oldest first."""

    def __init__(self, window: int = DEFAULT_METRICS_WINDOW) -> None:
        self.samples: dict[str, collections.deque[Sample]] = collections.defaultdict(
            lambda: collections.deque(maxlen=window))

    def record(self, role: str, status: int, latency_s: float) -> None:
        self.samples[role].append(Sample(time.time(), status, latency_s))

    def summary(self, role: str, since: float = 0.0) -> dict[str, Any]:
        samples = list(self.samples[role])
        start = bisect.bisect_left([s.at for s in samples], since)
        window = samples[start:]
        errors = sum(1 for s in window if s.status >= 500)
        latencies = sorted(s.latency_s for s in window)
        p99 = latencies[max(0, math.ceil(0.99 * len(latencies)) - 1)] * 1000 if latencies else None
        return {"role": role, "since": since, "requests": len(window), "errors": errors,
                "error_rate": errors / len(window) if window else None, "p99_ms": p99}


class Router:
    """Which backend gets the next request."""

    def __init__(self) -> None:
        self.canary_weight = 0
        self._count = 0

    def pick_canary(self) -> bool:
        n = self._count
        self._count += 1
        w = self.canary_weight
        return (n + 1) * w // 100 > n * w // 100


class Proxy:
    """`backends()` returns {role: (port, digest)} for the live backends."""

    def __init__(self, backends: Callable[[], dict[str, tuple[int, str]]], router: Router, metrics: Metrics,
                 timeout_s: float = DEFAULT_UPSTREAM_TIMEOUT_S,
                 fault_for: Callable[[str], FaultInjector | None] = lambda role: None) -> None:
        self.backends = backends
        self.router = router
        self.metrics = metrics
        self.timeout_s = timeout_s
        self.fault_for = fault_for

    async def respond(self, req: http1.Request) -> tuple[int, list[tuple[str, str]], bytes]:
        live = self.backends()
        role = "canary" if "canary" in live and self.router.pick_canary() else "stable"
        if role not in live:
            role = "canary" if "canary" in live else ""
        if not role:
            return 503, [], b"no release is serving this target\n"
        port, digest = live[role]
        started = time.perf_counter()
        fault = self.fault_for(role)
        if fault is not None:
            abort, delay_s = fault.decide()
            if delay_s:
                await asyncio.sleep(delay_s)
            if abort:
                self.metrics.record(role, 503, time.perf_counter() - started)
                return 503, [(RELEASE_HEADER, digest), (FAULT_HEADER, "abort")], b"fault injected: abort\n"
        try:
            up = await http1.forward("127.0.0.1", port, req, HOP_BY_HOP, self.timeout_s)
        except (OSError, ValueError, IndexError, TimeoutError) as exc:
            self.metrics.record(role, 502, time.perf_counter() - started)
            return 502, [(RELEASE_HEADER, digest)], f"upstream {role} failed: {type(exc).__name__}\n".encode()
        self.metrics.record(role, up.status, time.perf_counter() - started)
        headers = [(k, v) for k, v in up.headers if k.lower() not in HOP_BY_HOP]
        return up.status, [*headers, (RELEASE_HEADER, digest)], up.body


Responder = Callable[[http1.Request], Any]


async def serve_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                           respond: Responder) -> None:
    """Answer requests on one client connection until it closes (keep-alive aware)."""
    try:
        while True:
            try:
                req = await http1.read_request(reader)
            except http1.BadRequest as exc:
                writer.write(http1.render_response(exc.status, [], f"{exc}\n".encode(), keep_alive=False))
                break
            if req is None:
                break
            status, headers, body = await respond(req)
            writer.write(http1.render_response(status, headers, body, keep_alive=req.keep_alive))
            await writer.drain()
            if not req.keep_alive:
                break
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        with contextlib.suppress(ConnectionError, RuntimeError):
            writer.close()
