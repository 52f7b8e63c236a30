"""Plateau and growth without progress: judged on the test runs the agent makes.

Every shell output that ends in a test runner's summary is a test run. Across
a node's retry loop (one brake per node, so retries accumulate) the plateau
detector fires when K runs in a row did not beat the best pass rate or pass
count seen so far; the growth detector fires when the code keeps growing (lines
added since passing tests last went up) over several test runs while the
number of passing tests does not.
"""

from __future__ import annotations

from shopfloor.govern.brake.config import GrowthConfig, PlateauConfig
from shopfloor.govern.brake.evidence import PassFail, parse_test_counts
from shopfloor.govern.brake.steps import Step, ToolStep


def _test_run(step: Step) -> PassFail | None:
    if isinstance(step, ToolStep) and step.name == "shell":
        return parse_test_counts(step.output)
    return None


class PlateauDetector:
    name = "plateau"
    advice = "Your last changes did not make more tests pass; re-read the failing output and rethink the fix."

    def __init__(self, config: PlateauConfig) -> None:
        self.config = config
        self._best: PassFail | None = None
        self._since_best = 0

    def observe(self, step: Step) -> str | None:
        run = _test_run(step)
        if run is None:
            return None
        best = self._best
        if best is None or run.passed > best.passed or run.rate > best.rate:
            self._best, self._since_best = run, 0
            return None
        if run.failed == 0:
            return None  # all green: re-running tests is verification, not a plateau
        self._since_best += 1
        if self._since_best >= self.config.runs:
            return (f"{self._since_best} test runs without improving on {best.passed}/{best.total} passing "
                    f"(now {run.passed}/{run.total})")
        return None


class GrowthDetector:
    name = "growth"
    advice = "You keep adding code without making more tests pass; remove what does not help and focus."

    def __init__(self, config: GrowthConfig) -> None:
        self.config = config
        self._best_passed = -1
        self._lines = 0
        self._runs = 0

    def observe(self, step: Step) -> str | None:
        if not isinstance(step, ToolStep) or step.is_error:
            return None
        self._lines += sum(e.lines_added for e in step.edits)
        run = _test_run(step)
        if run is None:
            return None
        if run.passed > self._best_passed:
            self._best_passed, self._lines, self._runs = run.passed, 0, 0
            return None
        self._runs += 1
        if self._lines >= self.config.lines and self._runs >= self.config.test_runs:
            return (f"{self._lines} lines added over {self._runs} test runs while passing tests stayed at "
                    f"{self._best_passed}")
        return None
