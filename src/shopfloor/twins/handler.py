"""Pipeline handler `type="shopfloor.twins"`: start twins for the rest of the run.

    twins [type="shopfloor.twins", twins="slack,jira", twins_seed="twins/seed.yaml",
           twins_chaos="twins/chaos.yaml"]

The twins named by the node (else `[twins] start` in shopfloor.toml) are started
once per run and stopped when the run ends (through `scope.resources`); running
the node again reuses those already up. Their URLs and credentials go into the
context as `twins.<name>.url`, `twins.<name>.base_url`, `twins.<name>.env`
and `twins.<name>.<credential>`. In `{logs_root}/{node}/`: `twins.json` records
them, `twins.env` holds the environment variables that point services and SDKs
at the twins (`set -a; . twins.env`), and when the run ends each twin's request
journal is saved as `journal-<twin>.jsonl`.
Seed and chaos paths are relative to shopfloor.toml's directory.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shopfloor.errors import UserError
from shopfloor.pipeline.context import Context
from shopfloor.pipeline.diagnostics import Diagnostic, Severity
from shopfloor.pipeline.graph import Graph, Node
from shopfloor.pipeline.handler import HandlerRegistry
from shopfloor.pipeline.lint_rules import FunctionRule, LintRule
from shopfloor.pipeline.outcome import Outcome, StageStatus
from shopfloor.pipeline.scope import RunScope
from shopfloor.twins.runner import BUILTIN_TWINS, RunningTwin, TwinFleet, run_twins, twin_class

HANDLER_TYPE = "shopfloor.twins"


class TwinsConfig(BaseModel):
    """`[twins]` in shopfloor.toml."""

    model_config = ConfigDict(extra="forbid")

    start: list[str] = Field(default_factory=list)
    seed: str | None = None
    chaos: str | None = None
    id_seed: int = 0
    #: Fixed ports by twin name, e.g. to match `[sandbox] allowed_ports` (default: free ports).
    ports: dict[str, int] = Field(default_factory=dict)


def _names(raw: str) -> list[str]:
    return [n for n in raw.replace(",", " ").split() if n]


class TwinsHandler:
    def __init__(self, scope: RunScope) -> None:
        self.scope = scope
        self.running: dict[str, RunningTwin] = {}

    def _resolve(self, value: str | None) -> Path | None:
        if not value:
            return None
        path = Path(value)
        base = self.scope.config.path.parent if self.scope.config.path else Path.cwd()
        return path if path.is_absolute() else base / path

    def execute(self, node: Node, context: Context, graph: Graph, logs_root: Path) -> Outcome:
        try:
            config = self.scope.config.section("twins", TwinsConfig)
            names = _names(node.str_attr("twins")) or config.start
            if not names:
                raise UserError(
                    f"node {node.id!r} names no twins",
                    where=node.id,
                    fix='add twins="slack,jira" to the node or `start = [...]` under [twins]',
                )
            refs = list(dict.fromkeys(names))
            keys = {ref: twin_class(ref).name for ref in refs}  # "module:Class" twins run under their name
            missing = [ref for ref in refs if keys[ref] not in self.running]
            if missing:
                fleet: TwinFleet = self.scope.resources.enter_context(
                    run_twins(
                        missing,
                        seed=self._resolve(node.str_attr("twins_seed") or config.seed),
                        chaos=self._resolve(node.str_attr("twins_chaos") or config.chaos),
                        id_seed=config.id_seed,
                        ports={k: v for k, v in config.ports.items() if k in {keys[r] for r in missing}},
                    )
                )
                self.running.update(fleet)
                # Registered after the fleet, so it runs first at run end, while the twins still hold state.
                self.scope.resources.callback(self._save_journals, dict(fleet), logs_root / node.id)
        except UserError as exc:
            return Outcome(StageStatus.FAIL, failure_reason=exc.line())
        started = TwinFleet({keys[ref]: self.running[keys[ref]] for ref in refs})
        described = started.describe()
        stage_dir = logs_root / node.id
        stage_dir.mkdir(parents=True, exist_ok=True)
        (stage_dir / "twins.json").write_text(json.dumps(described, indent=2))
        env = "".join(f"{key}={shlex.quote(value)}\n" for key, value in started.environment().items())
        (stage_dir / "twins.env").write_text(env)
        self.scope.emit(
            "twins.started",
            {
                "node": node.id,
                "twins": {n: {"url": d["url"], "base_url": d["base_url"]} for n, d in described.items()},
            },
        )
        updates: dict[str, Any] = started.context_values()
        # Sandboxed commands reach host loopback ports only when allowed: say which ports the twins use.
        updates["twins.ports"] = sorted(running.server.port for running in self.running.values())
        return Outcome(
            StageStatus.SUCCESS,
            context_updates=updates,
            notes="twins up: " + ", ".join(f"{n} {d['url']}" for n, d in described.items()),
        )

    def _save_journals(self, fleet: dict[str, RunningTwin], stage_dir: Path) -> None:
        """Keep what each twin was asked, for validation after the run: `journal-<twin>.jsonl`."""
        stage_dir.mkdir(parents=True, exist_ok=True)
        for name, running in fleet.items():
            lines = [json.dumps(entry.to_dict()) + "\n" for entry in running.twin.journal.entries()]
            (stage_dir / f"journal-{name}.jsonl").write_text("".join(lines))


def register_handlers(registry: HandlerRegistry, scope: RunScope) -> None:
    registry.register(HANDLER_TYPE, TwinsHandler(scope))


def _twin_names(graph: Graph) -> Iterable[Diagnostic]:
    for node in graph.nodes.values():
        if node.type != HANDLER_TYPE:
            continue
        for name in _names(node.str_attr("twins")):
            if name not in BUILTIN_TWINS and ":" not in name:
                yield Diagnostic(
                    "twins_names",
                    Severity.ERROR,
                    f"unknown twin {name!r} in twins=",
                    node_id=node.id,
                    fix=f"use {', '.join(BUILTIN_TWINS)} or module:TwinClass",
                )


def lint_rules() -> list[LintRule]:
    """Checked by `shopfloor validate` before a run starts any twin."""
    return [FunctionRule("twins_names", _twin_names)]
