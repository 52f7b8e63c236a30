"""The execution engine (attractor-spec 3): traverse the graph from start to exit, one node at a time.

Per node: resolve fidelity and thread, execute with retries, record the
outcome, apply context updates, choose the next step (edge selection, failure
routing, parallel join), then save the checkpoint (the one fsync per node) and
flush the event log before the next node starts. At the exit node the goal
gates are checked; an unsatisfied gate sends the run to its retry target.

A stop request (`RunScope.stop_requested`) is honoured between nodes and
inside waits: the checkpoint is written with the node to run next, the run is
marked stopped, and `resume()` continues it.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from shopfloor.errors import UserError
from shopfloor.pipeline import checkpoint as cp
from shopfloor.pipeline.artifacts import ArtifactStore
from shopfloor.pipeline.checkpoint import Checkpoint, CheckpointEncoder
from shopfloor.pipeline.context import Context
from shopfloor.pipeline.edge_selection import Route, retry_target, route
from shopfloor.pipeline.events import (
    CheckpointSaved,
    EventBus,
    GoalGateUnsatisfied,
    PipelineCompleted,
    PipelineFailed,
    PipelineRestarted,
    PipelineResumed,
    PipelineStarted,
    PipelineStopped,
)
from shopfloor.pipeline.executor import NodeExecutor, RunStopped
from shopfloor.pipeline.fidelity import (
    CONTEXT_FIDELITY_KEY,
    CONTEXT_THREAD_KEY,
    FULL,
    PREAMBLE_KEY,
    RESUME_DEGRADED_FIDELITY,
    TRANSIENT_PREFIX,
    preamble,
    resolve_fidelity,
    resolve_thread,
)
from shopfloor.pipeline.graph import Edge, Graph, Node
from shopfloor.pipeline.handler import HandlerRegistry
from shopfloor.pipeline.outcome import Outcome, StageStatus
from shopfloor.pipeline.run_dir import EVENTS_FILE, Manifest, RunDir
from shopfloor.pipeline.scope import RunScope

#: Node executions after which a run is failed as a runaway loop (override: `max_steps=`).
DEFAULT_MAX_STEPS = 10_000
#: loop_restart edges a run may take before it is failed (override: `max_restarts=`).
DEFAULT_MAX_LOOP_RESTARTS = 100
#: Set by the parallel handler: the fan-in node where its branches converge.
PARALLEL_JOIN_KEY = "parallel.join_node"
PARALLEL_RESULTS_KEY = "parallel.results"
STEP_KEY = "internal.step"
RUN_ID_KEY = "internal.run_id"


def record_completed(completed: list[str], outcomes: dict[str, str], node: Node, outcome: Outcome) -> None:
    """Note `node` as completed and, for a parallel node, every node its branches completed."""
    completed.append(node.id)
    outcomes[node.id] = outcome.status.value
    if node.handler_type != "parallel":
        return
    for branch in outcome.context_updates.get(PARALLEL_RESULTS_KEY, []):
        branch_outcomes = branch.get("node_outcomes", {})
        for branch_node in branch.get("completed_nodes", []):
            completed.append(branch_node)
            outcomes[branch_node] = branch_outcomes.get(branch_node, "")


@dataclass
class RunResult:
    status: str  # success | fail | stopped
    outcome: Outcome
    completed_nodes: list[str]
    node_outcomes: dict[str, str]
    context: dict[str, Any]
    logs_root: Path
    run_id: str

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "completed_nodes": list(self.completed_nodes),
                "node_outcomes": dict(self.node_outcomes), "context": self.context,
                "logs_root": str(self.logs_root), "run_id": self.run_id,
                "failure_reason": self.outcome.failure_reason}


@dataclass
class _State:
    run_dir: RunDir
    context: Context
    current: str
    incoming: Edge | None = None
    completed: list[str] = field(default_factory=list)
    outcomes: dict[str, str] = field(default_factory=dict)
    retries: dict[str, int] = field(default_factory=dict)
    attempts: dict[str, int] = field(default_factory=dict)
    last_fidelity: str = ""
    degrade_next: bool = False
    recovering: bool = False
    restart_count: int = 0


def find_start_node(graph: Graph) -> Node:
    for node in graph.nodes.values():
        if node.shape == "Mdiamond":
            return node
    for name in ("start", "Start"):
        if name in graph.nodes:
            return graph.nodes[name]
    raise UserError("pipeline has no start node", where=f"graph {graph.name}",
                    fix="add a node with shape=Mdiamond")


def is_terminal(node: Node) -> bool:
    return node.handler_type == "exit"


def unsatisfied_goal_gate(graph: Graph, outcomes: dict[str, str]) -> Node | None:
    """Spec 3.4: the first visited goal-gate node whose last status is not a success.

    A skipped node records no outcome (spec 5.2), so a skipped gate neither passes nor blocks.
    """
    for node_id, status in outcomes.items():
        node = graph.nodes.get(node_id)
        if node is not None and node.goal_gate and status not in ("success", "partial_success", "skipped"):
            return node
    return None


def mirror_graph_attributes(graph: Graph, context: Context) -> None:
    context.set("graph.goal", graph.goal)
    for key, value in graph.attrs.items():
        if key != "goal":
            context.set(f"graph.{key}", value if isinstance(value, str | int | float | bool) else str(value))


class PipelineEngine:
    def __init__(self, graph: Graph, registry: HandlerRegistry, scope: RunScope, events: EventBus, *,
                 manifest: Manifest | None = None, max_steps: int = DEFAULT_MAX_STEPS,
                 max_restarts: int = DEFAULT_MAX_LOOP_RESTARTS, rng: random.Random | None = None) -> None:
        self.graph = graph
        self.registry = registry
        self.scope = scope
        self.events = events
        self.base_dir = RunDir(scope.logs_root)
        self.manifest = manifest
        self.max_steps = max_steps
        self.max_restarts = max_restarts
        self.executor = NodeExecutor(registry, events, scope.stop_requested, rng)
        self._started = time.monotonic()
        self._checkpoint_encoder = CheckpointEncoder()

    # -- entry points ---------------------------------------------------------

    def run(self, initial_context: dict[str, Any] | None = None) -> RunResult:
        """Initialize (context, first checkpoint) and execute from the start node."""
        state = self._fresh_state(self.base_dir, find_start_node(self.graph).id, initial_context or {})
        self.events.emit(PipelineStarted(self.graph.name, self.scope.run_id, str(state.run_dir.root)))
        self._save(state, next_node=state.current)
        return self._loop(state)

    def resume(self) -> RunResult:
        """Continue from the checkpoint: restore state, skip finished nodes, degrade `full` once."""
        run_dir = self.base_dir
        ckpt = Checkpoint.load(run_dir.root)
        while ckpt.status == cp.RESTARTED and ckpt.restarted_into:
            parent, run_dir = run_dir, RunDir(self.base_dir.root / ckpt.restarted_into)
            if not Checkpoint.exists(run_dir.root):  # the crash came while the restart was being set up
                state = self._open_restart_dir(run_dir, parent, ckpt.next_node, ckpt.restart_count + 1)
                return self._loop(state)
            ckpt = Checkpoint.load(run_dir.root)
        if run_dir is not self.base_dir:
            self.events.reopen(run_dir.root / EVENTS_FILE)
            self.scope.logs_root = run_dir.root
        if ckpt.status in cp.FINISHED_STATES:
            outcome = Outcome(StageStatus(ckpt.status), failure_reason=ckpt.failure_reason)
            return self._result(ckpt.status, outcome, ckpt.completed_nodes, ckpt.node_outcomes,
                                Context(ckpt.context), run_dir)
        if ckpt.next_node not in self.graph.nodes:
            raise UserError(f"checkpoint names node {ckpt.next_node!r}, which the pipeline does not have",
                            where=str(run_dir.checkpoint_path),
                            fix="resume with the pipeline the run started with")
        incoming = next((e for e in self.graph.edges if e.key == ckpt.next_edge), None)
        state = _State(run_dir, Context(ckpt.context, ckpt.logs), ckpt.next_node, incoming,
                       list(ckpt.completed_nodes), dict(ckpt.node_outcomes), dict(ckpt.node_retries),
                       dict(ckpt.node_attempts), ckpt.last_fidelity,
                       degrade_next=ckpt.last_fidelity == FULL, recovering=True,
                       restart_count=ckpt.restart_count)
        self.events.emit(PipelineResumed(self.graph.name, self.scope.run_id, state.current))
        return self._loop(state)

    # -- the loop -------------------------------------------------------------

    def _fresh_state(self, run_dir: RunDir, start: str, initial: dict[str, Any], restarts: int = 0) -> _State:
        context = Context()
        mirror_graph_attributes(self.graph, context)
        context.set(RUN_ID_KEY, self.scope.run_id)
        context.apply_updates(initial)
        return _State(run_dir, context, start, restart_count=restarts)

    def _loop(self, state: _State) -> RunResult:
        try:
            while True:
                if self.scope.stop_requested.is_set():
                    return self._stop(state, "stop requested")
                if len(state.completed) >= self.max_steps:
                    return self._finish(state, Outcome(StageStatus.FAIL, failure_reason=(
                        f"run exceeded {self.max_steps} node executions (a loop that never exits?)")))
                node = self.graph.nodes[state.current]
                if is_terminal(node):
                    gate = unsatisfied_goal_gate(self.graph, state.outcomes)
                    if gate is not None:
                        target = retry_target(gate, self.graph, include_graph=True)
                        self.events.emit(GoalGateUnsatisfied(gate.id, state.outcomes[gate.id], target))
                        if not target:
                            return self._finish(state, Outcome(StageStatus.FAIL, failure_reason=(
                                f"goal gate {gate.id} unsatisfied and no retry target")))
                        state.current, state.incoming = target, None
                        continue
                try:
                    outcome = self._execute(state, node)
                except RunStopped:
                    return self._stop(state, f"stop requested during {node.id}")
                nxt = self._next(state, node, outcome)
                if is_terminal(node):
                    return self._finish(state, Outcome(StageStatus.SUCCESS, notes="Pipeline completed"))
                if nxt is None:
                    if outcome.status == StageStatus.FAIL:
                        return self._finish(state, outcome)
                    return self._finish(state, Outcome(StageStatus.SUCCESS, notes="Pipeline completed"))
                if nxt.loop_restart:
                    if state.restart_count >= self.max_restarts:
                        return self._finish(state, Outcome(StageStatus.FAIL, failure_reason=(
                            f"run took more than {self.max_restarts} loop_restart edges")))
                    state = self._restart(state, nxt.target)
                    continue
                state.current, state.incoming = nxt.target, nxt.edge
                self._save(state, next_node=nxt.target)
        finally:
            self.events.flush(durable=True)

    def _execute(self, state: _State, node: Node) -> Outcome:
        ctx = state.context
        step = len(state.completed)
        ctx.set("current_node", node.id)
        ctx.set(STEP_KEY, step)
        mode = resolve_fidelity(state.incoming, node, self.graph)
        if state.degrade_next and mode == FULL:
            mode = RESUME_DEGRADED_FIDELITY
        state.degrade_next = False
        ctx.set(CONTEXT_FIDELITY_KEY, mode)
        previous = state.completed[-1] if state.completed else ""
        ctx.set(CONTEXT_THREAD_KEY, resolve_thread(state.incoming, node, self.graph, previous))
        if node.handler_type == "codergen":
            ctx.set(PREAMBLE_KEY, preamble(mode, goal=self.graph.goal, run_id=self.scope.run_id,
                                           completed=state.completed, outcomes=state.outcomes,
                                           context=self._visible_context(ctx, deep=False)))
        outcome = None
        if state.recovering:
            state.recovering = False
            outcome = self.executor.recover(node, state.run_dir.root, str(step), step)
        if outcome is None:
            outcome = self.executor.execute(node, ctx, self.graph, state.run_dir.root, step=str(step),
                                            index=step, retries=state.retries,
                                            attempts=state.attempts, flush=False)
        state.last_fidelity = mode
        record_completed(state.completed, state.outcomes, node, outcome)
        ctx.apply_updates(outcome.context_updates)
        if outcome.status != StageStatus.SKIPPED:
            ctx.set("outcome", outcome.status.value)
        if outcome.preferred_label:
            ctx.set("preferred_label", outcome.preferred_label)
        return outcome

    def _next(self, state: _State, node: Node, outcome: Outcome) -> Route | None:
        if is_terminal(node):
            return None
        join = outcome.context_updates.get(PARALLEL_JOIN_KEY)
        if node.handler_type == "parallel" and outcome.status != StageStatus.FAIL\
                and join in self.graph.nodes:
            return Route(str(join))
        return route(node, outcome, state.context, self.graph)

    # -- state transitions ----------------------------------------------------

    def _visible_context(self, context: Context, *, deep: bool = True) -> dict[str, Any]:
        """Without `deep` for what is read or encoded at once (preamble, checkpoint), not handed out."""
        values = context.snapshot() if deep else context.view()
        return {k: v for k, v in values.items() if not k.startswith(TRANSIENT_PREFIX)}

    def _save(self, state: _State, *, next_node: str, status: str = cp.RUNNING, reason: str = "",
              restarted_into: str = "") -> None:
        ckpt = Checkpoint(
            run_id=self.scope.run_id, current_node=state.completed[-1] if state.completed else "",
            completed_nodes=state.completed, node_retries=state.retries, node_attempts=state.attempts,
            context=self._visible_context(state.context, deep=False), logs=state.context.logs,
            next_node=next_node,
            next_edge=state.incoming.key if state.incoming is not None and next_node else "",
            node_outcomes=state.outcomes, last_fidelity=state.last_fidelity, status=status,
            failure_reason=reason, restarted_into=restarted_into, restart_count=state.restart_count)
        ckpt.save(state.run_dir.root, encoder=self._checkpoint_encoder)
        self.events.emit(CheckpointSaved(ckpt.current_node))
        self.events.flush()

    def _stop(self, state: _State, reason: str) -> RunResult:
        self._save(state, next_node=state.current, status=cp.STOPPED, reason=reason)
        self.events.emit(PipelineStopped(state.current, reason))
        outcome = Outcome(StageStatus.FAIL, failure_reason=reason)
        return self._result(cp.STOPPED, outcome, state.completed, state.outcomes, state.context,
                            state.run_dir)

    def _finish(self, state: _State, outcome: Outcome) -> RunResult:
        success = outcome.status != StageStatus.FAIL
        status = cp.SUCCESS if success else cp.FAIL
        self._save(state, next_node="", status=status, reason=outcome.failure_reason)
        duration = round(time.monotonic() - self._started, 4)
        if success:
            artifacts = len(ArtifactStore(state.run_dir.root).list())
            self.events.emit(PipelineCompleted(duration, artifacts))
        else:
            self.events.emit(PipelineFailed(outcome.failure_reason, duration))
        return self._result(status, outcome, state.completed, state.outcomes, state.context, state.run_dir)

    def _restart(self, state: _State, target: str) -> _State:
        """loop_restart: close this log directory and continue at `target` in a fresh one."""
        number = state.restart_count + 1
        new_dir = self.base_dir.restart_dir(number)
        # The old checkpoint names the target, so a crash before the new directory exists can redo this.
        self._save(state, next_node=target, status=cp.RESTARTED, restarted_into=new_dir.root.name)
        self.events.emit(PipelineRestarted(target, str(new_dir.root)))
        self.events.flush(durable=True)
        return self._open_restart_dir(new_dir, state.run_dir, target, number)

    def _open_restart_dir(self, new_dir: RunDir, parent: RunDir, target: str, number: int) -> _State:
        manifest = self.manifest or Manifest(self.scope.run_id, self.graph.name, self.graph.goal, time.time())
        new_dir.create(replace(manifest, parent_logs_root=str(parent.root), started_at=time.time()), None)
        self.events.reopen(new_dir.events_path)
        self.scope.logs_root = new_dir.root
        initial = manifest.initial_context if self.manifest else {}
        fresh = self._fresh_state(new_dir, target, initial, restarts=number)
        self.events.emit(PipelineStarted(self.graph.name, self.scope.run_id, str(new_dir.root)))
        self._save(fresh, next_node=target)
        return fresh

    def _result(self, status: str, outcome: Outcome, completed: list[str], outcomes: dict[str, str],
                context: Context, run_dir: RunDir) -> RunResult:
        return RunResult(status, outcome, list(completed), dict(outcomes), self._visible_context(context),
                         run_dir.root, self.scope.run_id)
