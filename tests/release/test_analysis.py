"""Analysis verdicts (Argo Rollouts semantics) over real proxy metrics and real commands."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from shopfloor.release.analysis import Verdict, measure, run_analysis
from shopfloor.release.proxy import Metrics, Router
from shopfloor.release.targets import AnalysisMetric, AnalysisTemplate


def _command(tmp_path: Path, body: str) -> str:
    script = tmp_path / "metric.py"
    script.write_text(body)
    return f"{sys.executable} {script}"


def test_the_router_splits_exactly_by_weight() -> None:
    router = Router()
    router.canary_weight = 20
    picks = [router.pick_canary() for _ in range(100)]
    assert picks.count(True) == 20 and picks[:5] == [False, False, False, False, True]
    router.canary_weight = 0
    assert not any(router.pick_canary() for _ in range(50))


def test_traffic_metrics_judge_the_canary_window_only() -> None:
    metrics = Metrics()
    for _ in range(8):
        metrics.record("canary", 500, 0.002)
    since = time.time()
    for status in [200] * 19 + [500]:
        metrics.record("canary", status, 0.004)
        metrics.record("stable", 500, 0.004)  # stable's errors are not the canary's
    template = AnalysisTemplate(min_requests=10)
    errors = AnalysisMetric(name="errors", kind="error_rate", success_max=0.01, failure_above=0.10)
    m = measure(errors, template, metrics.summary, since, {})
    assert (m.verdict, m.value) == (Verdict.INCONCLUSIVE, 0.05)  # between the thresholds
    p99 = AnalysisMetric(name="p99", kind="p99_latency_ms", success_max=5, failure_above=50)
    assert measure(p99, template, metrics.summary, since, {}).verdict is Verdict.SUCCESSFUL
    starved = measure(errors, AnalysisTemplate(min_requests=100), metrics.summary, since, {})
    assert starved.verdict is Verdict.INCONCLUSIVE and "min_requests" in starved.detail


def test_custom_command_values_and_failures(tmp_path: Path) -> None:
    template = AnalysisTemplate(interval_s=0.01, count=2)

    def run(body: str, **limits: float) -> Verdict:
        metric = AnalysisMetric(name="custom", kind="command", command=_command(tmp_path, body), **limits)
        return measure(metric, template, Metrics().summary, 0.0, {}).verdict

    assert run("print(0.2)", success_max=0.5, failure_above=1.0) is Verdict.SUCCESSFUL
    assert run("print(0.7)", success_max=0.5, failure_above=1.0) is Verdict.INCONCLUSIVE
    assert run("print(3)", success_max=0.5, failure_above=1.0) is Verdict.FAILED
    assert run("raise SystemExit(1)", success_max=0.5) is Verdict.FAILED
    assert run("print('n/a')", success_max=0.5) is Verdict.INCONCLUSIVE


def test_failure_limit_and_early_abort(tmp_path: Path) -> None:
    flaky = _command(tmp_path, "import os, sys\nsys.exit(0 if os.environ['ROUND'] else 1)\n")
    smoke = AnalysisMetric(name="smoke", kind="smoke", command=flaky)
    failing = run_analysis(AnalysisTemplate(interval_s=0.01, count=5, metrics=[smoke]), Metrics().summary,
                           {"ROUND": ""})
    assert failing.verdict is Verdict.FAILED and len(failing.measurements) == 1  # aborted at once
    assert failing.failed_at == failing.measurements[0].at
    tolerated = run_analysis(AnalysisTemplate(interval_s=0.01, count=3, failure_limit=3, metrics=[smoke]),
                             Metrics().summary, {"ROUND": ""})
    assert tolerated.verdict is Verdict.SUCCESSFUL and len(tolerated.measurements) == 3
    passing = run_analysis(AnalysisTemplate(interval_s=0.01, count=2, metrics=[smoke]), Metrics().summary,
                           {"ROUND": "1"})
    assert passing.verdict is Verdict.SUCCESSFUL and len(passing.measurements) == 2
