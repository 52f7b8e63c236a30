"""The `repair` codergen backend: search-based repair of the node's workspace.

Settings come from `[repair]` in shopfloor.toml, then the backend options, then
node attributes `repair.workspace`, `repair.tests`, `repair.budget`,
`repair.seed` (most specific wins). Without a workspace setting, the run's
`workspace.dir` (from a `shopfloor.workspace` node) is used, else the current
directory. The search's candidates run in sandboxes
built from `[sandbox]`. The stage directory gets `repair.patch` and
`repair.json`; the context gets the visible-test figures the brake and later
nodes read.

A node that runs again in the same run (a scenario or gate rejected its work
and routed back) starts over from the sources as they were before its first
run, kept in the stage directory, and never offers the same patch twice.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shopfloor.errors import UserError
from shopfloor.pipeline.context import Context
from shopfloor.pipeline.graph import Node
from shopfloor.pipeline.outcome import Outcome, StageStatus
from shopfloor.pipeline.scope import WORKSPACE_DIR_KEY, RunScope
from shopfloor.sandbox.bwrap import SandboxedExecutionEnvironment
from shopfloor.sandbox.policy import SandboxPolicy
from shopfloor.workers.repair.search import (
    DEFAULT_CANDIDATE_BUDGET,
    RepairConfig,
    RepairResult,
    default_sources,
    patch_digest,
    repair_project,
)
from shopfloor.workers.repair.testrun import DEFAULT_TEST_TIMEOUT_S

PATCH_FILE = "repair.patch"
REPORT_FILE = "repair.json"
ORIGINALS_DIR = "original-sources"
#: Context key (per node) listing the digests of every patch this node has produced.
PRODUCED_KEY = "repair.produced.{}"


class RepairSettings(BaseModel):
    """`[repair]` in shopfloor.toml."""

    model_config = ConfigDict(extra="forbid")

    workspace: str | None = None
    tests: list[str] = Field(default_factory=lambda: ["tests"])
    budget: int = Field(DEFAULT_CANDIDATE_BUDGET, ge=1)
    seed: int = 0
    workers: int | None = Field(None, ge=1)
    test_timeout_s: float = Field(DEFAULT_TEST_TIMEOUT_S, gt=0)


class RepairBackend:
    def __init__(self, scope: RunScope, options: dict[str, Any]) -> None:
        self.scope = scope
        self.base = {**scope.config.data.get("repair", {}),
                     **{k: v for k, v in options.items() if k in RepairSettings.model_fields}}
        self.settings_for(None)  # bad [repair] settings fail before the run starts
        self.policy = SandboxPolicy.from_config(scope.config)

    def settings_for(self, node: Node | None) -> RepairSettings:
        raw = dict(self.base)
        if node is not None:
            for key in ("workspace", "budget", "seed"):
                if node.get(f"repair.{key}") is not None:
                    raw[key] = node.get(f"repair.{key}")
            if node.get("repair.tests") is not None:
                raw["tests"] = node.str_attr("repair.tests").split()
        try:
            return RepairSettings.model_validate(raw)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = f"node {node.id}" if node else "[repair] / backend options"
            raise UserError(f"invalid repair setting {'.'.join(map(str, err['loc']))}: {err['msg']}",
                            where=where, fix="see docs/repair.md") from None

    def run(self, node: Node, prompt: str, context: Context) -> Outcome:
        settings = self.settings_for(node)
        workspace = Path(settings.workspace or context.get_string(WORKSPACE_DIR_KEY) or ".").resolve()
        if not workspace.is_dir():
            raise UserError("repair workspace does not exist", where=f"node {node.id}: {workspace}",
                            fix="set repair.workspace (node attribute or [repair] workspace)")
        produced = list(context.get(PRODUCED_KEY.format(node.id)) or [])
        self._restore_or_keep_originals(node, workspace, settings.tests, rerun=bool(produced))
        config = RepairConfig(test_args=settings.tests, candidate_budget=settings.budget, seed=settings.seed,
                              test_timeout_s=settings.test_timeout_s, excluded_patches=produced,
                              **({"workers": settings.workers} if settings.workers else {}))
        self.scope.emit("repair.started", {"node_id": node.id, "workspace": str(workspace),
                                           "budget": config.candidate_budget, "seed": config.seed})
        result = repair_project(workspace, config, stop=self.scope.stop_requested,
                                environment=lambda d: SandboxedExecutionEnvironment(d, self.policy))
        self._record(node, result)
        outcome = self._outcome(node, result)
        if result.patch:
            outcome.context_updates[PRODUCED_KEY.format(node.id)] = [*produced, patch_digest(result.patch)]
        return outcome

    def _restore_or_keep_originals(self, node: Node, workspace: Path, tests: list[str], *,
                                   rerun: bool) -> None:
        """First run: keep a copy of the editable sources. Re-run: put that copy back."""
        kept = self.scope.logs_root / node.id / ORIGINALS_DIR
        if rerun and kept.is_dir():
            for path in kept.rglob("*.py"):
                (workspace / path.relative_to(kept)).write_text(path.read_text())
            self.scope.emit("repair.restarted", {"node_id": node.id, "reason": "earlier patch rejected"})
            return
        for rel in default_sources(workspace, tests):
            target = kept / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text((workspace / rel).read_text())

    def _record(self, node: Node, result: RepairResult) -> None:
        stage_dir = self.scope.logs_root / node.id
        stage_dir.mkdir(parents=True, exist_ok=True)
        (stage_dir / PATCH_FILE).write_text(result.patch)
        (stage_dir / REPORT_FILE).write_text(json.dumps({
            "repaired": result.repaired,
            "visible_passed": len(result.final.passed), "visible_total": result.final.total,
            "initial_passed": len(result.initial.passed), "initial_total": result.initial.total,
            "edits": [e.description for e in result.edits],
            "candidates_evaluated": result.candidates_evaluated, "duration_s": round(result.duration_s, 3),
        }, indent=2))
        for edit in result.edits:
            self.scope.emit("repair.edit_accepted", {"node_id": node.id, "edit": edit.description})
        self.scope.emit("repair.finished", {"node_id": node.id, "repaired": result.repaired,
                                            "summary": result.summary()})

    def _outcome(self, node: Node, result: RepairResult) -> Outcome:
        updates = {"last_stage": node.id, "last_response": result.summary(),
                   "repair.repaired": result.repaired, "repair.edits": len(result.edits),
                   "tests.visible.passed": len(result.final.passed),
                   "tests.visible.total": result.final.total}
        if result.repaired:
            return Outcome(StageStatus.SUCCESS, notes=result.summary(), context_updates=updates)
        improved = len(result.final.passed) > len(result.initial.passed)
        reason = result.final.broken or result.summary()
        return Outcome(StageStatus.PARTIAL_SUCCESS if improved else StageStatus.FAIL, notes=result.summary(),
                       context_updates=updates, failure_reason=reason)


def create_backend(scope: RunScope, options: dict[str, Any]) -> RepairBackend:
    return RepairBackend(scope, dict(options))
