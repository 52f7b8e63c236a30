"""Governance for a pipeline run: one budget tree per run, a governor per agent session.

The agent backend calls `govern_session(scope, node, session)` for each
codergen node's session (workers.agent SESSION_PLUGINS). The run's budget is
built once per RunScope from `[budgets]` (and any limits `shopfloor resume
--budget-*` raised), restored from `{logs_root}/budget.json` when the run is
resumed, and saved there after every charge. Each node gets a child budget
(`[budgets.node]`, or the node's `budget_usd` / `budget_tokens` /
`budget_tool_calls` / `budget_wall_clock_s` attributes) shared by its retries;
each session a child of that (`[budgets.session]`).
"""

from __future__ import annotations

import sys
import threading
from typing import Any

from shopfloor.agent.session import Session
from shopfloor.errors import UserError
from shopfloor.govern import budget_store
from shopfloor.govern.brake.config import BrakeConfig, load_brake_config
from shopfloor.govern.brake.ladder import Brake, Intervention
from shopfloor.govern.budget import Budget, BudgetExceeded
from shopfloor.govern.governor import SessionGovernor
from shopfloor.govern.policy import BudgetLimits, Policy, load_policy
from shopfloor.pipeline.graph import Node
from shopfloor.pipeline.scope import RunScope

NODE_BUDGET_ATTRS = {"usd": "budget_usd", "tokens": "budget_tokens", "tool_calls": "budget_tool_calls",
                     "wall_clock_s": "budget_wall_clock_s"}


class RunGovernance:
    """Policy, brake thresholds and the budget tree of one run."""

    def __init__(self, scope: RunScope) -> None:
        self.scope = scope
        self.policy: Policy = load_policy(scope.config)
        self.brake_config: BrakeConfig = load_brake_config(scope.config)
        stored = budget_store.load(scope.logs_root)
        limits = self.policy.budgets.run.model_copy(update=stored.get("limits_override", {}))
        spent = stored.get("run", {})
        self._lock = threading.Lock()
        self._stored_nodes: dict[str, Any] = stored.get("nodes", {})
        self._overrides = stored.get("limits_override", {})
        self.run = Budget("run", limits, spent=spent, elapsed_before_s=float(spent.get("elapsed_s", 0.0)),
                          on_change=lambda _: self.save())
        self.nodes: dict[str, Budget] = {}
        self.brakes: dict[str, Brake] = {}

    def node_budget(self, node: Node) -> Budget:
        with self._lock:
            if node.id not in self.nodes:
                base = self.policy.budgets.node.model_dump()
                base.update({field: node.get(attr) for field, attr in NODE_BUDGET_ATTRS.items()
                             if node.get(attr) is not None})
                try:
                    limits = BudgetLimits.model_validate(base)
                except ValueError as exc:
                    raise UserError(f"invalid budget attribute: {exc}".splitlines()[0],
                                    where=f"node {node.id}",
                                    fix="give budget_* attributes positive numbers") from None
                # What the node spent before a resume counts against it again.
                self.nodes[node.id] = Budget(node.id, limits, self.run, spent=self._stored_nodes.get(node.id))
            return self.nodes[node.id]

    def stop_for_budget(self, exc: BudgetExceeded, node: Node) -> None:
        """The run's own budget ran out: stop the run (checkpointed, resumable) and say how to go on."""
        self.scope.stop_requested.set()
        flag = {"usd": " --budget-usd N", "tokens": " --budget-tokens N"}.get(exc.resource, "")
        hint = f" after raising [budgets] {exc.resource}" if not flag else ""
        print(f"shopfloor: {exc} during {node.id}; the run stops here and can go on{hint}: "
              f"shopfloor resume --logs-root {self.scope.logs_root}{flag}", file=sys.stderr)

    def node_brake(self, node: Node, session: Session) -> Brake:
        """One brake per node, so plateau and growth see every iteration of the node's retry loop."""
        with self._lock:
            if node.id not in self.brakes:
                env = session.env
                self.brakes[node.id] = Brake(
                    self.policy, self.brake_config, workspace=env.working_directory(), exists=env.file_exists,
                    emit=lambda kind, data: self.scope.emit(kind, {**data, "node_id": node.id}), live=True)
            return self.brakes[node.id]

    def save(self) -> None:
        budget_store.save(self.scope.logs_root, {
            "run": self.run.snapshot(), "limits_override": self._overrides,
            "nodes": {**self._stored_nodes, **{k: b.snapshot() for k, b in self.nodes.items()}}})

    def ask_human(self, node: Node) -> Any:
        from shopfloor.pipeline.interviewer import Option, Question

        def ask(iv: Intervention) -> bool:
            question = Question(f"The brake stopped node {node.id} ({iv.detector}: {iv.reason}). "
                                "Let the agent continue?",
                                options=[Option("C", "Continue"), Option("S", "Stop the node")],
                                stage=node.id, metadata={"detector": iv.detector})
            answer = self.scope.interviewer.ask(question)
            return answer.selected_option is not None and answer.selected_option.key == "C"

        return ask


_runs: dict[int, RunGovernance] = {}
_runs_lock = threading.Lock()


def run_governance(scope: RunScope) -> RunGovernance:
    """The run's governance, created on first use and dropped when the run's resources close."""
    with _runs_lock:
        gov = _runs.get(id(scope))
        if gov is None:
            gov = _runs[id(scope)] = RunGovernance(scope)
            scope.resources.callback(lambda: _runs.pop(id(scope), None))
            scope.resources.callback(gov.save)
        return gov


def govern_session(scope: RunScope, node: Node, session: Session) -> SessionGovernor:
    """Put a node's agent session under the run's budget, brake and policy."""
    gov = run_governance(scope)
    budget = gov.node_budget(node).child(f"session-{session.id[:8]}", gov.policy.budgets.session)
    governor = SessionGovernor(gov.policy, budget, gov.brake_config, emit=scope.emit, node_id=node.id,
                               ask_human=gov.ask_human(node) if scope.interviewer is not None else None,
                               on_run_budget_exhausted=lambda exc: gov.stop_for_budget(exc, node),
                               brake=gov.node_brake(node, session),
                               subagent_limits=gov.policy.budgets.subagent)
    governor.attach(session)
    return governor
