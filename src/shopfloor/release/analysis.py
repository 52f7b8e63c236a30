"""Canary analysis in the manner of Argo Rollouts' AnalysisTemplate.

Every `interval_s` each metric is measured once, `count` times in all. A
measurement is Successful, Failed or Inconclusive against the metric's
thresholds (success at or below `success_max`, failure above `failure_above`,
in between or without enough traffic: inconclusive). As soon as more than
`failure_limit` measurements failed the run stops as Failed — waiting out the
remaining intervals would only keep users on a bad release. After the last
interval, more than `inconclusive_limit` inconclusive measurements give
Inconclusive (a human decides), else Successful.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from shopfloor.release.targets import AnalysisMetric, AnalysisTemplate

#: Command output kept in a measurement record.
DEFAULT_OUTPUT_TAIL_CHARS = 500


class Verdict(StrEnum):
    SUCCESSFUL = "Successful"
    FAILED = "Failed"
    INCONCLUSIVE = "Inconclusive"


@dataclass
class Measurement:
    metric: str
    verdict: Verdict
    value: float | None
    at: float
    detail: str = ""


@dataclass
class AnalysisRun:
    verdict: Verdict
    measurements: list[Measurement] = field(default_factory=list)
    #: Wall-clock time of the measurement that decided a Failed verdict.
    failed_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict.value, "failed_at": self.failed_at,
                "measurements": [asdict(m) for m in self.measurements]}


#: (role, since) → proxy summary {"requests", "error_rate", "p99_ms", ...}
MetricsSource = Callable[[str, float], dict[str, Any]]


def _threshold(metric: AnalysisMetric, value: float) -> Verdict:
    if metric.failure_above is not None and value > metric.failure_above:
        return Verdict.FAILED
    if metric.success_max is None or value <= metric.success_max:
        return Verdict.SUCCESSFUL
    return Verdict.INCONCLUSIVE


def measure(metric: AnalysisMetric, template: AnalysisTemplate, metrics: MetricsSource, since: float,
            env: dict[str, str]) -> Measurement:
    now = time.time()
    if metric.kind in ("error_rate", "p99_latency_ms"):
        summary = metrics("canary", since)
        if summary.get("requests", 0) < max(template.min_requests, 1):
            seen = summary.get("requests", 0)
            return Measurement(metric.name, Verdict.INCONCLUSIVE, None, now,
                               f"{seen} requests < min_requests {template.min_requests}")
        value = summary["error_rate"] if metric.kind == "error_rate" else summary["p99_ms"]
        return Measurement(metric.name, _threshold(metric, float(value)), float(value), now,
                           f"{summary['requests']} requests")
    assert metric.command is not None
    try:
        proc = subprocess.run(shlex.split(metric.command), capture_output=True, text=True,
                              timeout=metric.timeout_s, env={**os.environ, **env}, check=False)
    except subprocess.TimeoutExpired:
        return Measurement(metric.name, Verdict.FAILED, None, time.time(),
                           f"timed out after {metric.timeout_s}s")
    except OSError as exc:
        return Measurement(metric.name, Verdict.FAILED, None, time.time(), f"cannot run: {exc}")
    tail = (proc.stdout + proc.stderr)[-DEFAULT_OUTPUT_TAIL_CHARS:]
    if metric.kind == "smoke":
        verdict = Verdict.SUCCESSFUL if proc.returncode == 0 else Verdict.FAILED
        return Measurement(metric.name, verdict, float(proc.returncode), time.time(), tail)
    if proc.returncode != 0:
        return Measurement(metric.name, Verdict.FAILED, None, time.time(), f"exit {proc.returncode}: {tail}")
    try:
        value = float(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return Measurement(metric.name, Verdict.INCONCLUSIVE, None, time.time(), f"not a number: {tail}")
    return Measurement(metric.name, _threshold(metric, value), value, time.time(), tail)


def run_analysis(template: AnalysisTemplate, metrics: MetricsSource, env: dict[str, str],
                 stop: threading.Event | None = None) -> AnalysisRun:
    """Measure every metric `count` times, one interval apart; stop early on too many failures."""
    run = AnalysisRun(Verdict.SUCCESSFUL)
    if not template.metrics:
        return run
    failures = inconclusive = 0
    stop = stop or threading.Event()
    for _ in range(template.count):
        since = time.time()
        if stop.wait(template.interval_s):
            run.verdict = Verdict.INCONCLUSIVE
            return run
        for metric in template.metrics:
            m = measure(metric, template, metrics, since, env)
            run.measurements.append(m)
            if m.verdict is Verdict.FAILED:
                failures += 1
                if failures > template.failure_limit:
                    run.verdict, run.failed_at = Verdict.FAILED, m.at
                    return run
            elif m.verdict is Verdict.INCONCLUSIVE:
                inconclusive += 1
    if inconclusive > template.inconclusive_limit:
        run.verdict = Verdict.INCONCLUSIVE
    return run
