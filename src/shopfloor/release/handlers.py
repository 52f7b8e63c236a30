"""Pipeline handlers `shopfloor.gate` and `shopfloor.deploy`, registered per run.

Registering also records the run's context snapshot (the drift baseline) at
the start of the run, before any node executes.

Gate node attributes: `digest` (else context `release.digest`), `workspace`
(a directory to snapshot when there is no digest yet), `target` or `base`
(what the diff is taken against), `min_satisfaction`, `require_evidence`,
`approval_ttl` (seconds). Deploy node attributes: `target` (required),
`digest` (else context `release.digest`), `idempotency_key` (default
`<run_id>:<node_id>`, so a resumed run never deploys twice), and
`fault_abort_rate`, `fault_delay_ms`, `fault_after_s`, `fault_after_requests`
(override the target's `[targets.fault]` for this deploy; `fault_abort_rate="0"`
with no delay turns it off). The target's `env` templates `{{context.KEY}}` are
rendered from the run context.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from shopfloor.errors import UserError
from shopfloor.pipeline.context import Context
from shopfloor.pipeline.diagnostics import Diagnostic, Severity
from shopfloor.pipeline.graph import Graph, Node
from shopfloor.pipeline.handler import HandlerRegistry
from shopfloor.pipeline.interviewer import AnswerValue, Question, QuestionType
from shopfloor.pipeline.lint_rules import FunctionRule, LintRule
from shopfloor.pipeline.node_attrs import as_bool
from shopfloor.pipeline.outcome import Outcome, StageStatus
from shopfloor.pipeline.scope import RunScope
from shopfloor.release import approvals
from shopfloor.release.artifacts import ArtifactStore, diff_hash
from shopfloor.release.deploy import Releaser
from shopfloor.release.drift import capture_snapshot
from shopfloor.release.evidence import evidence_from_context
from shopfloor.release.gate import (
    DEFAULT_MIN_SATISFACTION,
    GateDecision,
    base_for_target,
    critical_changes,
    evaluate,
)
from shopfloor.release.ledger import PAUSED_STATE, Ledger
from shopfloor.release.releases import create_release
from shopfloor.release.targets import FaultConfig, get_target

#: How long a gate waits for a human decision (interviewer, then `shopfloor approve`) before failing;
#: override per node with `approval_wait` (seconds).
DEFAULT_APPROVAL_WAIT_S = 600.0
#: How often a waiting gate looks for an approval recorded by the CLI or over HTTP.
DEFAULT_APPROVAL_POLL_S = 0.5


def _approver(interviewer: Any) -> str:
    return str(getattr(interviewer, "identity", "") or f"interviewer:{type(interviewer).__name__}")


#: Gate attributes that are numbers, with their defaults and the range they must lie in.
GATE_NUMBERS: dict[str, tuple[float, float, float]] = {
    "min_satisfaction": (DEFAULT_MIN_SATISFACTION, 0.0, 1.0),
    "approval_wait": (DEFAULT_APPROVAL_WAIT_S, 0.0, float("inf")),
    "approval_ttl": (approvals.DEFAULT_APPROVAL_TTL_S, 1.0, float("inf")),
}


def gate_number(node: Node, key: str) -> float:
    """A numeric gate attribute; a bad value is a one-line error, never a silent default."""
    default, low, high = GATE_NUMBERS[key]
    raw = node.get(key)
    if raw is None:
        return default
    try:
        value = float(str(raw).strip())
    except ValueError:
        value = float("nan")
    if not low <= value <= high:
        raise UserError(f"{key}={raw!r} is not a number between {low:g} and {high:g}",
                        where=f"node {node.id}",
                        fix=f"set {key} to a number in that range, or remove it for the default {default:g}")
    return value


class GateHandler:
    def __init__(self, scope: RunScope) -> None:
        self.scope = scope

    def _digest(self, node: Node, context: Context, ledger: Ledger) -> str:
        """The node's digest, else a fresh snapshot of the run's workspace (it may have changed since
        an earlier gate), else the context's digest."""
        if node.str_attr("digest"):
            return node.str_attr("digest")
        workspace = node.str_attr("workspace") or context.get_string("release.workspace")
        if not workspace:
            digest = context.get_string("release.digest")
            if digest:
                return digest
            raise UserError("the gate has no candidate", where=f"node {node.id}",
                            fix="set digest= or workspace= on the node, or release.digest in the context")
        validation, satisfaction = evidence_from_context(context)
        manifest, _ = create_release(Path(workspace), self.scope.config, ledger=ledger,
                                     run_id=self.scope.run_id, validation=validation or None,
                                     satisfaction=satisfaction)
        return manifest.digest

    def execute(self, node: Node, context: Context, graph: Graph, logs_root: Path) -> Outcome:
        try:
            with Ledger() as ledger:
                return self._execute(node, context, ledger)
        except UserError as exc:
            return Outcome(StageStatus.FAIL, failure_reason=exc.line())

    def _execute(self, node: Node, context: Context, ledger: Ledger) -> Outcome:
        digest = self._digest(node, context, ledger)
        target = node.str_attr("target")
        base = node.str_attr("base") or (base_for_target(ledger, target) if target else None)
        kwargs = {"run_id": self.scope.run_id, "gate": node.id, "digest": digest, "base": base,
                  "min_satisfaction": gate_number(node, "min_satisfaction"),
                  "require_evidence": as_bool(node.get("require_evidence"), True)}
        decision = evaluate(self.scope.config, ledger, **kwargs)
        if decision.status == "approval_required":
            decision = self._ask_human(node, ledger, kwargs, decision)
        self.scope.emit("release.gate", decision.to_dict())
        return self._outcome(node, digest, decision)

    def _ask_human(self, node: Node, ledger: Ledger, kwargs: dict[str, Any],
                   decision: GateDecision) -> GateDecision:
        """Ask the interviewer; without a yes or no, wait for `shopfloor approve` (CLI or HTTP)."""
        wait_s = gate_number(node, "approval_wait")
        deadline = time.monotonic() + wait_s
        how = f"shopfloor approve {self.scope.run_id} {node.id} --as NAME"
        interviewer = self.scope.interviewer
        if interviewer is not None:
            text = (f"Release {decision.digest[:12]} touches critical paths: {', '.join(decision.critical)}. "
                    f"Approve? (or: {how})")
            answer = interviewer.ask(Question(
                text=text,
                type=QuestionType.YES_NO, stage=node.id, timeout_seconds=wait_s,
                metadata={"digest": decision.digest, "diff_hash": decision.diff_hash,
                          "critical": decision.critical}))
            if answer.value in (AnswerValue.YES, "yes", AnswerValue.NO, "no"):
                approve = answer.value in (AnswerValue.YES, "yes")
                approvals.decide(ledger, self.scope.run_id, node.id, approve=approve,
                                 approver=_approver(interviewer),
                                 reason="" if approve else answer.text or "rejected at the interviewer",
                                 ttl_s=gate_number(node, "approval_ttl"))
                return evaluate(self.scope.config, ledger, **kwargs)
        self.scope.emit("release.gate.waiting", {"gate": node.id, "digest": decision.digest, "command": how,
                                                 "wait_s": wait_s})
        while decision.status == "approval_required" and time.monotonic() < deadline:
            if self.scope.stop_requested.wait(DEFAULT_APPROVAL_POLL_S):
                break
            decision = evaluate(self.scope.config, ledger, **kwargs)
        return decision

    def _outcome(self, node: Node, digest: str, decision: GateDecision) -> Outcome:
        updates = {"release.digest": digest, "release.diff_hash": decision.diff_hash,
                   "release.gate": decision.status, "release.approver": decision.approver}
        if decision.status == "passed":
            return Outcome(StageStatus.SUCCESS, context_updates=updates,
                           notes=f"critical: {decision.critical or 'none'}")
        if decision.status == "approval_required":
            wait_s = gate_number(node, "approval_wait")
            return Outcome(StageStatus.FAIL, context_updates=updates,
                           failure_reason=f"needs a human approval (critical paths: "
                                          f"{', '.join(decision.critical)}) and none came within "
                                          f"{wait_s:g}s; run again and approve while the gate waits: "
                                          f"shopfloor approve RUN_ID {node.id} --as NAME")
        return Outcome(StageStatus.FAIL, context_updates=updates, failure_reason="; ".join(decision.reasons))


#: Deploy node attributes that override the target's `[targets.fault]` keys of the same name.
FAULT_ATTRIBUTES = {"fault_abort_rate": "abort_rate", "fault_delay_ms": "delay_ms",
                    "fault_after_s": "after_s", "fault_after_requests": "after_requests"}


def node_fault(node: Node, base: FaultConfig | None) -> FaultConfig | None:
    """The target's fault with the node's `fault_*` attributes over it (None: the node sets none)."""
    overrides = {key: node.get(attr) for attr, key in FAULT_ATTRIBUTES.items() if node.get(attr) is not None}
    if not overrides:
        return None
    try:
        return FaultConfig(**{**(base.model_dump() if base else {}), **overrides})
    except ValidationError as exc:
        err = exc.errors()[0]
        attr = next(a for a, k in FAULT_ATTRIBUTES.items() if k == err["loc"][0])
        raise UserError(f"{attr}={node.get(attr)!r}: {err['msg']}", where=f"node {node.id}",
                        fix="abort_rate is a share between 0 and 1; delays, after_s and after_requests "
                            "are >= 0") from None


class DeployHandler:
    def __init__(self, scope: RunScope) -> None:
        self.scope = scope

    def execute(self, node: Node, context: Context, graph: Graph, logs_root: Path) -> Outcome:
        try:
            return self._execute(node, context)
        except UserError as exc:
            return Outcome(StageStatus.FAIL, failure_reason=exc.line())

    def _execute(self, node: Node, context: Context) -> Outcome:
        target = node.str_attr("target")
        digest = node.str_attr("digest") or context.get_string("release.digest")
        if not target or not digest:
            raise UserError("deploy node needs target= and a digest", where=f"node {node.id}",
                            fix="set target=NAME and pass a gate first (it sets release.digest)")
        key = node.str_attr("idempotency_key") or f"{self.scope.run_id}:{node.id}"
        fault = node_fault(node, get_target(self.scope.config, target).fault)
        with Ledger() as ledger:
            store = ArtifactStore()
            digest = store.resolve(digest)
            base = base_for_target(ledger, target)
            changes, critical = critical_changes(self.scope.config, store, base, digest)
            if critical:  # a pipeline without a gate still cannot ship a critical change unapproved
                approvals.require(ledger, run_id=self.scope.run_id, gate=None, digest=digest,
                                  diff_hash=diff_hash(changes))
            releaser = Releaser(self.scope.config, ledger=ledger, on_progress=self.scope.emit)
            result = releaser.deploy(digest, target, key, context=context.snapshot(), fault=fault)
            if result["state"] == PAUSED_STATE and self.scope.interviewer is not None:
                answer = self.scope.interviewer.ask(Question(
                    text=f"Canary analysis of {digest[:12]} on {target} was inconclusive. Promote it?",
                    type=QuestionType.YES_NO, stage=node.id,
                    metadata={"deployment_id": result["deployment_id"]}))
                promote = answer.value in (AnswerValue.YES, "yes")
                result = releaser.promote(target) if promote else releaser.rollback(target)
        updates = {"release.deployment_id": result["deployment_id"], "release.state": result["state"]}
        if result["state"] == "succeeded":
            return Outcome(StageStatus.SUCCESS, context_updates=updates,
                           notes=f"traffic: {result['traffic']}")
        return Outcome(StageStatus.FAIL, context_updates=updates,
                       failure_reason=f"deployment {result['deployment_id']} ended {result['state']}: "
                                      f"{result.get('error') or 'see shopfloor releases'}")


def register_handlers(registry: HandlerRegistry, scope: RunScope) -> None:
    with Ledger() as ledger:
        ledger.record_snapshot(scope.run_id, capture_snapshot(scope.config).to_dict(), replace=False)
    registry.register("shopfloor.gate", GateHandler(scope))
    registry.register("shopfloor.deploy", DeployHandler(scope))


def _deploy_faults(graph: Graph) -> Iterable[Diagnostic]:
    for node in graph.nodes.values():
        if node.type != "shopfloor.deploy":
            continue
        try:
            node_fault(node, None)
        except UserError as exc:
            yield Diagnostic("deploy_fault", Severity.ERROR, exc.what, node_id=node.id, fix=exc.fix or "")


def _gate_numbers(graph: Graph) -> Iterable[Diagnostic]:
    for node in graph.nodes.values():
        if node.type != "shopfloor.gate":
            continue
        for key in GATE_NUMBERS:
            try:
                gate_number(node, key)
            except UserError as exc:
                yield Diagnostic("gate_attributes", Severity.ERROR, exc.what, node_id=node.id,
                                 fix=exc.fix or "")


def lint_rules() -> list[LintRule]:
    """Checked by `shopfloor validate`: deploy fault_* and gate numbers are in range before a run ships."""
    return [FunctionRule("deploy_fault", _deploy_faults), FunctionRule("gate_attributes", _gate_numbers)]
