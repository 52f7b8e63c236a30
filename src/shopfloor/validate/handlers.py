"""Pipeline handlers `type="shopfloor.scenarios"` and `type="shopfloor.contracts"`.

    scenarios [type="shopfloor.scenarios", scenarios="/srv/sealed/notifier", threshold="0.9",
               lower_bound="0.5", trajectories="3"]
    contracts [type="shopfloor.contracts", base="origin/main"]

`shopfloor.scenarios` runs the sealed suite against the run's workspace
(`workspace.dir` in the context, else the node's `target_dir`, else the current
directory): SUCCESS at or above the threshold, PARTIAL_SUCCESS above the lower
bound, FAIL otherwise or on a leak. report.md/report.json go in the stage
directory; the redacted feedback goes in the context (`scenarios.feedback`) and
the failure reason, which is all the next codergen attempt is told.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from shopfloor.errors import UserError
from shopfloor.pipeline.context import Context
from shopfloor.pipeline.diagnostics import Diagnostic, Severity
from shopfloor.pipeline.graph import Graph, Node
from shopfloor.pipeline.handler import HandlerRegistry
from shopfloor.pipeline.lint_rules import FunctionRule, LintRule
from shopfloor.pipeline.outcome import Outcome, StageStatus
from shopfloor.pipeline.scope import WORKSPACE_DIR_KEY, RunScope
from shopfloor.sandbox.policy import SandboxPolicy
from shopfloor.validate.config import ValidateConfig
from shopfloor.validate.report import DEFAULT_REDACTION, Redaction, ScenarioReport, redaction_level
from shopfloor.validate.runner import RunOptions, run_scenarios
from shopfloor.validate.suite import load_suite
from shopfloor.validate.visible import VisibleTests

SCENARIOS_TYPE = "shopfloor.scenarios"
CONTRACTS_TYPE = "shopfloor.contracts"
#: Files of a run directory that make up the agent's transcript (scanned for leaks).
TRANSCRIPT_GLOBS = ("*/response.md", "**/transcript*.jsonl", "**/session*.jsonl")
#: What the agent was given (public: its text is no evidence of a leak).
PUBLIC_GLOBS = ("*/prompt.md",)


def _float(node: Node, key: str, default: float) -> float:
    raw = node.str_attr(key)
    try:
        value = float(raw) if raw else default
    except ValueError:
        raise UserError(
            f"{key}={raw!r} is not a number", where=f"node {node.id}", fix=f'write {key}="0.9"'
        ) from None
    if not 0 <= value <= 1:
        raise UserError(f"{key}={raw!r} is outside 0..1", where=f"node {node.id}", fix="use a proportion")
    return value


def _int(node: Node, key: str, default: int | None) -> int | None:
    raw = node.str_attr(key)
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise UserError(
            f"{key}={raw!r} is not a positive integer", where=f"node {node.id}", fix=f'write {key}="3"'
        )
    return int(raw)


class ScenariosHandler:
    def __init__(self, scope: RunScope) -> None:
        self.scope = scope

    def _base(self) -> Path:
        return self.scope.config.path.parent if self.scope.config.path else Path.cwd()

    def _visible(self, context: Context) -> VisibleTests | None:
        """The visible tests' counts from an earlier `shopfloor.tests` node, when the run has them."""
        total = context.get("tests.visible.total")
        if not isinstance(total, int) or total <= 0:
            return None
        passed = int(context.get("tests.visible.passed", 0) or 0)
        return VisibleTests("shopfloor.tests node", passed, total, 0 if passed == total else 1, "")

    def _options(self, node: Node, context: Context, config: ValidateConfig, logs_root: Path) -> RunOptions:
        target = context.get_string(WORKSPACE_DIR_KEY) or node.str_attr("target_dir", ".")
        target_dir = Path(target) if Path(target).is_absolute() else self._base() / target
        transcripts = sorted(
            {p for pattern in TRANSCRIPT_GLOBS for p in logs_root.glob(pattern) if p.is_file()}
        )
        return RunOptions(
            target_dir=target_dir,
            command=node.str_attr("target") or None,
            twins=[n for n in node.str_attr("twins").replace(",", " ").split() if n] or None,
            trajectories=_int(node, "trajectories", config.trajectories),
            parallel=_int(node, "parallel", config.parallel) or config.parallel,
            threshold=_float(node, "threshold", config.threshold),
            visible_tests=node.str_attr("visible_tests") or None,
            visible_result=self._visible(context),
            transcripts=transcripts,
            public=sorted(p for pattern in PUBLIC_GLOBS for p in logs_root.glob(pattern) if p.is_file()),
            judge_model=config.judge_model,
            policy=SandboxPolicy.from_config(self.scope.config),
            shingle_words=config.shingle_words,
            leak_min_shingles=config.leak_min_shingles,
            leak_max_file_bytes=config.leak_max_file_bytes,
        )

    def execute(self, node: Node, context: Context, graph: Graph, logs_root: Path) -> Outcome:
        try:
            config = self.scope.config.section("validate", ValidateConfig)
            directory = node.str_attr("scenarios") or config.scenarios
            if not directory:
                raise UserError(
                    f"node {node.id!r} names no scenarios",
                    where=node.id,
                    fix='add scenarios="DIR" to the node or `scenarios = "DIR"` under [validate]',
                )
            path = Path(directory) if Path(directory).is_absolute() else self._base() / directory
            level = redaction_level(node.str_attr("redaction") or config.redaction, where=node.id)
            lower = _float(node, "lower_bound", config.lower_bound)
            options = self._options(node, context, config, logs_root)
            report = run_scenarios(load_suite(path), options)
        except UserError as exc:
            return Outcome(StageStatus.FAIL, failure_reason=exc.line())
        return self._outcome(node, report, level, lower, logs_root)

    def _outcome(
        self, node: Node, report: ScenarioReport, level: Redaction, lower: float, logs_root: Path
    ) -> Outcome:
        stage_dir = logs_root / node.id
        stage_dir.mkdir(parents=True, exist_ok=True)
        (stage_dir / "report.json").write_text(json.dumps(report.to_dict(), indent=2))
        (stage_dir / "report.md").write_text(report.to_markdown())
        feedback = report.feedback(level)
        if report.leaks:
            status = StageStatus.FAIL
        elif report.passed:
            status = StageStatus.SUCCESS
        elif report.satisfaction > lower:
            status = StageStatus.PARTIAL_SUCCESS
        else:
            status = StageStatus.FAIL
        self.scope.emit(
            "scenarios.evaluated",
            {
                "node": node.id,
                "scenario_set_hash": report.scenario_set_hash,
                "satisfaction": report.satisfaction,
                "satisfied": report.satisfied,
                "total": report.total,
                "flaky": report.flaky,
                "leaks": len(report.leaks),
                "overfitting_gap": report.overfitting_gap,
                "status": status.value,
            },
        )
        updates = {
            "scenarios.satisfaction": round(report.satisfaction, 4),
            "scenarios.hash": report.scenario_set_hash,
            "scenarios.feedback": feedback,
            "scenarios.flaky": report.flaky,
            "scenarios.leaked": bool(report.leaks),
        }
        notes = f"satisfaction {report.satisfaction:.0%} ({report.satisfied}/{report.total}); "
        notes += report.visible_line()
        return Outcome(
            status,
            context_updates=updates,
            notes=notes,
            failure_reason="" if status == StageStatus.SUCCESS else feedback,
        )


def register_handlers(registry: HandlerRegistry, scope: RunScope) -> None:
    from shopfloor.validate.contracts.handler import ContractsHandler

    registry.register(SCENARIOS_TYPE, ScenariosHandler(scope))
    registry.register(CONTRACTS_TYPE, ContractsHandler(scope))


def _attribute_problems(graph: Graph) -> Iterable[Diagnostic]:
    """The scenarios node's attributes, checked before a run starts (the same checks the handler makes)."""
    for node in graph.nodes.values():
        if node.type != SCENARIOS_TYPE:
            continue
        checks = [
            lambda n=node: _float(n, "threshold", 0),
            lambda n=node: _float(n, "lower_bound", 0),
            lambda n=node: _int(n, "trajectories", None),
            lambda n=node: _int(n, "parallel", None),
            lambda n=node: redaction_level(n.str_attr("redaction") or DEFAULT_REDACTION, where=n.id),
        ]
        for check in checks:
            try:
                check()
            except UserError as exc:
                yield Diagnostic(
                    "scenarios_attributes", Severity.ERROR, exc.what, node_id=node.id, fix=exc.fix or ""
                )


def lint_rules() -> list[LintRule]:
    """Checked by `shopfloor validate` before a run starts any candidate."""
    return [FunctionRule("scenarios_attributes", _attribute_problems)]
