"""The satisfaction report: per scenario and overall, with intervals, flakiness, the
overfitting gap, leaks, and the redacted feedback an agent may see."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from shopfloor.errors import UserError
from shopfloor.validate.leaks import Leak
from shopfloor.validate.stats import wilson_interval
from shopfloor.validate.trajectory import TrajectoryResult
from shopfloor.validate.visible import VisibleTests

Redaction = Literal["count", "kind", "message"]
REDACTION_LEVELS: tuple[str, ...] = ("count", "kind", "message")
#: What the agent is told about failed scenarios unless configured otherwise.
DEFAULT_REDACTION: Redaction = "kind"


def redaction_level(raw: str, *, where: str) -> Redaction:
    """`raw` as a redaction level (from a flag or a node attribute), or a one-line error naming the levels."""
    if raw not in REDACTION_LEVELS:
        raise UserError(
            f"unknown redaction level {raw!r}", where=where, fix=f"use one of {', '.join(REDACTION_LEVELS)}"
        )
    return cast(Redaction, raw)
#: Satisfaction at or above which a candidate passes.
DEFAULT_THRESHOLD = 0.9
#: Satisfaction above which (and below the threshold) a pipeline stage is PARTIAL_SUCCESS.
DEFAULT_LOWER_BOUND = 0.5


@dataclass
class ScenarioScore:
    id: str
    title: str
    trajectories: list[TrajectoryResult]

    @property
    def satisfied(self) -> int:
        return sum(t.satisfied for t in self.trajectories)

    @property
    def total(self) -> int:
        return len(self.trajectories)

    @property
    def satisfaction(self) -> float:
        return self.satisfied / self.total if self.total else 0.0

    @property
    def flaky(self) -> bool:
        return 0 < self.satisfied < self.total

    def failure_kinds(self) -> list[str]:
        return sorted(Counter(f.kind for t in self.trajectories for f in t.failures))

    def to_dict(self) -> dict[str, Any]:
        low, high = wilson_interval(self.satisfied, self.total)
        return {
            "id": self.id,
            "title": self.title,
            "satisfied": self.satisfied,
            "total": self.total,
            "satisfaction": self.satisfaction,
            "interval_95": [low, high],
            "flaky": self.flaky,
            "failure_kinds": self.failure_kinds(),
            "trajectories": [t.to_dict() for t in self.trajectories],
        }


@dataclass
class ScenarioReport:
    suite: str
    scenario_set_hash: str
    target: str
    command: str
    scenarios: list[ScenarioScore]
    threshold: float = DEFAULT_THRESHOLD
    visible: VisibleTests | None = None
    leaks: list[Leak] = field(default_factory=list)
    duration_s: float = 0.0
    parallel: int = 1

    @property
    def satisfied(self) -> int:
        return sum(s.satisfied for s in self.scenarios)

    @property
    def total(self) -> int:
        return sum(s.total for s in self.scenarios)

    @property
    def satisfaction(self) -> float:
        return self.satisfied / self.total if self.total else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.satisfied, self.total)

    @property
    def flaky(self) -> list[str]:
        return [s.id for s in self.scenarios if s.flaky]

    @property
    def overfitting_gap(self) -> float | None:
        """Visible test pass rate minus satisfaction (points of a proportion); None without visible tests."""
        return None if self.visible is None else self.visible.pass_rate - self.satisfaction

    @property
    def passed(self) -> bool:
        return not self.leaks and self.satisfaction >= self.threshold

    def verdict(self) -> str:
        if self.leaks:
            return "FAIL (scenario text leaked)"
        return "PASS" if self.passed else "FAIL"

    def to_dict(self) -> dict[str, Any]:
        low, high = self.interval
        return {
            "suite": self.suite,
            "scenario_set_hash": self.scenario_set_hash,
            "target": self.target,
            "command": self.command,
            "passed": self.passed,
            "verdict": self.verdict(),
            "threshold": self.threshold,
            "satisfied": self.satisfied,
            "total": self.total,
            "satisfaction": self.satisfaction,
            "interval_95": [low, high],
            "flaky": self.flaky,
            "visible_tests": self.visible.to_dict() if self.visible else None,
            "overfitting_gap": self.overfitting_gap,
            "leaks": [leak.to_dict() for leak in self.leaks],
            "duration_s": self.duration_s,
            "parallel": self.parallel,
            "scenarios": [s.to_dict() for s in self.scenarios],
        }

    def visible_line(self) -> str:
        if self.visible is None:
            return "visible tests: not run (give --visible-tests CMD to measure the overfitting gap)"
        v, gap = self.visible, self.overfitting_gap or 0.0
        return (
            f"visible tests: {v.passed}/{v.total} ({v.pass_rate:.0%}) · "
            f"satisfaction {self.satisfaction:.0%} · "
            f"overfitting gap {gap * 100:+.0f} points"
        )

    def to_markdown(self) -> str:
        low, high = self.interval
        lines = [
            f"# Scenarios: {self.verdict()}",
            "",
            f"- satisfaction: **{self.satisfied}/{self.total} = {self.satisfaction:.1%}** "
            f"(Wilson 95%: {low:.1%}-{high:.1%}; threshold {self.threshold:.0%})",
            f"- {self.visible_line()}",
            f"- flaky: {', '.join(self.flaky) or 'none'}",
            f"- leaks: {len(self.leaks) or 'none'}",
            f"- scenario set: `{self.scenario_set_hash}` ({self.suite})",
            f"- candidate: `{self.command}` in {self.target}; "
            f"{self.duration_s:.1f}s, {self.parallel} in parallel",
            "",
            "| scenario | satisfied | satisfaction | 95% interval | flaky | failed expectations |",
            "|---|---|---|---|---|---|",
        ]
        for s in self.scenarios:
            lo, hi = wilson_interval(s.satisfied, s.total)
            lines.append(
                f"| {s.id} | {s.satisfied}/{s.total} | {s.satisfaction:.0%} | {lo:.0%}-{hi:.0%} | "
                f"{'yes' if s.flaky else ''} | {', '.join(s.failure_kinds())} |"
            )
        for leak in self.leaks:
            lines += [
                "",
                f"**Leak**: scenario `{leak.scenario}` appears in `{leak.file}` "
                f"({leak.shingles} shingles, e.g. “{leak.sample}”)",
            ]
        failing = [(s, t) for s in self.scenarios for t in s.trajectories if not t.satisfied]
        if failing:
            lines += ["", "## Failures", ""]
            for s, t in failing:
                for f in t.failures:
                    lines.append(
                        f"- `{s.id}` #{t.index} (chaos: {t.chaos or 'none'}) **{f.kind}**: {f.message}"
                    )
                if t.judge:
                    lines.append(
                        f"  - judge: {t.judge['verdict']} ({t.judge.get('confidence')}): {t.judge['reason']}"
                    )
        judged = [(s, t) for s in self.scenarios for t in s.trajectories if t.judge and t.satisfied]
        for s, t in judged:
            assert t.judge is not None
            lines.append(f"- `{s.id}` #{t.index} judge: {t.judge['verdict']}: {t.judge['reason']}")
        return "\n".join(lines) + "\n"

    def feedback(self, level: Redaction = DEFAULT_REDACTION) -> str:
        """What the agent may be told: never scenario text, at most the failure messages."""
        failed = [s for s in self.scenarios if s.satisfied < s.total]
        head = f"Sealed scenarios: satisfaction {self.satisfaction:.0%} ({self.satisfied}/{self.total} runs)."
        if self.leaks:
            head += " The evaluation failed: scenario text was found in your code or transcript."
        if not failed:
            return head
        if level == "count":
            return f"{head} {len(failed)} scenario(s) failed."
        lines = [head, "Failed scenarios:"]
        for s in failed:
            lines.append(
                f"- {s.id}: {s.satisfied}/{s.total} satisfied; failed: {', '.join(s.failure_kinds())}"
            )
            if level == "message":
                for message in sorted({f.message for t in s.trajectories for f in t.failures}):
                    lines.append(f"  - {message}")
        return "\n".join(lines)
