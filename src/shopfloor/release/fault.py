"""Fault injection on the canary's share of traffic, in the manner of Istio's HTTPFaultInjection.

For game days and demos: "a canary that goes bad partway through is rolled back by
itself". The proxy asks the canary's injector about every request it routes there:

- `abort_rate`: that share of requests is answered 503 by the proxy itself, without
  reaching the service (marked `X-Shopfloor-Fault: abort`);
- `delay_ms`: every faulted request waits this long before it is forwarded;
- `after_requests` / `after_s`: the fault starts only once the canary has had that many
  requests and has been up that long (both must hold), so the canary is healthy at first.

Aborts are spread evenly, like the router's split: at 0.5 exactly every second faulted
request is aborted, so a test can count on the share.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

FAULT_HEADER = "x-shopfloor-fault"


@dataclass
class FaultInjector:
    abort_rate: float = 0.0
    delay_ms: float = 0.0
    after_s: float = 0.0
    after_requests: int = 0
    armed_at: float = field(default_factory=time.time)
    #: Canary requests seen, faulted (seen after the fault started), aborted and delayed.
    requests: int = 0
    faulted: int = 0
    aborted: int = 0
    delayed: int = 0
    started_at: float | None = None

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> FaultInjector:
        return cls(abort_rate=float(spec.get("abort_rate", 0.0)), delay_ms=float(spec.get("delay_ms", 0.0)),
                   after_s=float(spec.get("after_s", 0.0)), after_requests=int(spec.get("after_requests", 0)))

    def decide(self) -> tuple[bool, float]:
        """For the next canary request: (abort it, seconds to delay it)."""
        self.requests += 1
        if self.started_at is None:
            if self.requests <= self.after_requests or time.time() - self.armed_at < self.after_s:
                return False, 0.0
            self.started_at = time.time()
        n = self.faulted
        self.faulted += 1
        abort = math.floor(round((n + 1) * self.abort_rate, 9)) > math.floor(round(n * self.abort_rate, 9))
        self.aborted += abort
        self.delayed += self.delay_ms > 0
        return abort, self.delay_ms / 1000

    def status(self) -> dict[str, Any]:
        return {**asdict(self), "active": self.started_at is not None}
