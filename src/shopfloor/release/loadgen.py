"""Built-in traffic for the canary analysis: `[targets.analysis] traffic = {...}`.

Traffic metrics judge the canary by the requests it served; with nobody using the
target they are inconclusive and the deployment waits for a human. The generator
sends steady requests through the proxy (so the router splits them like user
traffic) while one analysis runs, at `rate_per_s`, never more than the analysis
window can hold, and stops with the analysis.
"""

from __future__ import annotations

import collections
import math
import threading
import time
from typing import Any

import httpx

from shopfloor.release.targets import AnalysisTraffic


class LoadGenerator:
    """A background thread sending `traffic` to `base_url`; use as a context manager around the analysis."""

    def __init__(self, base_url: str, traffic: AnalysisTraffic, max_requests: int) -> None:
        self.url = base_url.rstrip("/") + traffic.path
        self.traffic = traffic
        self.max_requests = max_requests
        self.sent = 0
        self.statuses: collections.Counter[str] = collections.Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="shopfloor-analysis-traffic", daemon=True)

    @classmethod
    def for_analysis(cls, base_url: str, traffic: AnalysisTraffic, interval_s: float,
                     count: int) -> LoadGenerator:
        """Bounded by the analysis window: rate_per_s * interval_s * count requests at most."""
        return cls(base_url, traffic, max_requests=math.ceil(traffic.rate_per_s * interval_s * count))

    def _run(self) -> None:
        pause = 1 / self.traffic.rate_per_s
        start = time.monotonic()
        body = {"json": self.traffic.json_body} if self.traffic.json_body is not None else {}
        with httpx.Client(timeout=self.traffic.timeout_s, trust_env=False) as client:
            while self.sent < self.max_requests and not self._stop.is_set():
                try:
                    status = str(client.request(self.traffic.method, self.url, **body).status_code)
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                self.sent += 1
                self.statuses[status] += 1
                # A fixed schedule, not a fixed pause: a slow answer costs only its own time, not the rate.
                self._stop.wait(max(0.0, start + self.sent * pause - time.monotonic()))

    def summary(self) -> dict[str, Any]:
        return {"url": self.url, "rate_per_s": self.traffic.rate_per_s, "sent": self.sent,
                "statuses": dict(sorted(self.statuses.items()))}

    def __enter__(self) -> LoadGenerator:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
