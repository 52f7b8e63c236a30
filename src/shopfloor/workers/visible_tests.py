"""Pipeline handler `type="shopfloor.tests"`: run the visible tests, with the brake watching the loop.

    visible_tests [type="shopfloor.tests", tests="tests", timeout=120s]

Runs pytest in the node's `tests_cwd`, else the run's workspace (`workspace.dir`),
else the current directory, inside a bubblewrap sandbox, and reports the counts in the
context: `tests.visible.passed`, `.failed`, `.total`, `.rate` and the failing
test ids in `.failing`. SUCCESS when every test passes, FAIL otherwise, so the
pipeline can loop back to the implementing node.

The loop has a brake: each run is judged by govern's plateau detector (thresholds
from `[brake.plateau]`). When the pass count has not improved for that many runs
the node fails with `tests.visible.plateau=true` in the context and a
`brake.plateau` event, so an edge can stop the loop instead of burning more attempts.
"""

from __future__ import annotations

from pathlib import Path

from shopfloor.govern.brake.config import load_brake_config
from shopfloor.govern.brake.progress import PlateauDetector
from shopfloor.govern.brake.steps import ToolStep
from shopfloor.pipeline.context import Context
from shopfloor.pipeline.graph import Graph, Node
from shopfloor.pipeline.handler import HandlerRegistry
from shopfloor.pipeline.node_attrs import as_seconds
from shopfloor.pipeline.outcome import Outcome, StageStatus
from shopfloor.pipeline.scope import WORKSPACE_DIR_KEY, RunScope
from shopfloor.sandbox.bwrap import SandboxedExecutionEnvironment
from shopfloor.sandbox.policy import SandboxPolicy
from shopfloor.workers.repair.testrun import DEFAULT_TEST_TIMEOUT_S, run_tests

HANDLER_TYPE = "shopfloor.tests"


class VisibleTestsHandler:
    def __init__(self, scope: RunScope) -> None:
        self.scope = scope
        self.plateau = load_brake_config(scope.config).plateau
        self.policy = SandboxPolicy.from_config(scope.config)
        #: One detector per node, so a node's retry loop accumulates (as the agent brake does).
        self._detectors: dict[str, PlateauDetector] = {}
        self._runs = 0

    def execute(self, node: Node, context: Context, graph: Graph, logs_root: Path) -> Outcome:
        workdir = Path(node.str_attr("tests_cwd") or context.get_string(WORKSPACE_DIR_KEY) or ".").resolve()
        timeout = as_seconds(node.get("timeout")) or DEFAULT_TEST_TIMEOUT_S
        with SandboxedExecutionEnvironment(workdir, self.policy) as env:
            report = run_tests(env, node.str_attr("tests", "tests").split(), timeout_s=timeout)
        if report.broken:
            return Outcome(StageStatus.FAIL, failure_reason=f"visible tests could not run: {report.broken}",
                           context_updates={"tests.visible.broken": report.broken})
        passed, failed = len(report.passed), len(report.failed)
        updates = {"tests.visible.passed": passed, "tests.visible.failed": failed,
                   "tests.visible.total": report.total, "tests.visible.rate": round(passed / report.total, 4),
                   "tests.visible.failing": sorted(report.failed), "tests.visible.plateau": False}
        self.scope.emit("tests.visible", {"node_id": node.id, "passed": passed, "failed": failed})
        if not failed:
            return Outcome(StageStatus.SUCCESS, notes=f"{passed}/{report.total} visible tests pass",
                           context_updates=updates)
        detector = self._detectors.setdefault(node.id, PlateauDetector(self.plateau))
        self._runs += 1
        why = detector.observe(ToolStep(self._runs, f"{node.id}-{self._runs}", "shell", {},
                                        f"{passed} passed, {failed} failed", False, node.id))
        if why:
            updates["tests.visible.plateau"] = True
            self.scope.emit("brake.plateau", {"node_id": node.id, "reason": why, "rung": "stop"})
            return Outcome(StageStatus.FAIL, context_updates=updates,
                           failure_reason=f"brake: plateau — {why}")
        return Outcome(StageStatus.FAIL, context_updates=updates,
                       failure_reason=f"{failed} of {report.total} visible tests fail: "
                                      + ", ".join(sorted(report.failed)[:5]))


def register_handlers(registry: HandlerRegistry, scope: RunScope) -> None:
    registry.register(HANDLER_TYPE, VisibleTestsHandler(scope))
