"""Pipeline handler `type="shopfloor.contracts"`: every declared contract on the run's workspace.

    contracts [type="shopfloor.contracts", base="origin/main", only="layers,forbidden"]

SUCCESS when all pass, FAIL otherwise; contracts.md and contracts.json go in the
stage directory, `contracts.passed` and `contracts.failed` (kinds) in the context.
"""

from __future__ import annotations

import json
from pathlib import Path

from shopfloor.errors import UserError
from shopfloor.pipeline.context import Context
from shopfloor.pipeline.graph import Graph, Node
from shopfloor.pipeline.outcome import Outcome, StageStatus
from shopfloor.pipeline.scope import WORKSPACE_DIR_KEY, RunScope
from shopfloor.validate.config import ValidateConfig
from shopfloor.validate.contracts.check import check_contracts, load_contracts


class ContractsHandler:
    def __init__(self, scope: RunScope) -> None:
        self.scope = scope

    def execute(self, node: Node, context: Context, graph: Graph, logs_root: Path) -> Outcome:
        base_dir = self.scope.config.path.parent if self.scope.config.path else Path.cwd()
        workspace = context.get_string(WORKSPACE_DIR_KEY) or node.str_attr("target_dir", ".")
        project = Path(workspace) if Path(workspace).is_absolute() else base_dir / workspace
        try:
            config = load_contracts(self.scope.config)
            scenarios = self.scope.config.section("validate", ValidateConfig).scenarios
            hidden = [base_dir / scenarios] if scenarios else []
            only = [k for k in node.str_attr("only").replace(",", " ").split() if k] or None
            report = check_contracts(
                project, config, base=node.str_attr("base") or None, only=only, hidden_paths=hidden
            )
        except UserError as exc:
            return Outcome(StageStatus.FAIL, failure_reason=exc.line())
        stage_dir = logs_root / node.id
        stage_dir.mkdir(parents=True, exist_ok=True)
        (stage_dir / "contracts.json").write_text(json.dumps(report.to_dict(), indent=2))
        (stage_dir / "contracts.md").write_text(report.to_markdown())
        failed = [r.kind for r in report.results if not r.passed]
        self.scope.emit("contracts.checked", {"node": node.id, "passed": report.passed, "failed": failed})
        updates = {"contracts.passed": report.passed, "contracts.failed": failed}
        if report.passed:
            return Outcome(
                StageStatus.SUCCESS, context_updates=updates, notes=f"{len(report.results)} contract(s) pass"
            )
        reasons = "; ".join(f"{r.kind}: {r.summary}" for r in report.results if not r.passed)
        return Outcome(
            StageStatus.FAIL, context_updates=updates, failure_reason=f"contracts broken: {reasons}"
        )
