"""Parallel fan-out (attractor-spec 4.8): run every outgoing branch concurrently, up to `max_parallel`.

Each branch gets its own clone of the context and walks the graph from its
edge's target until it reaches the fan-in node where the branches converge
(or an exit, or a dead end). Branch context changes stay in the branch; what
comes back is `parallel.results` (one summary per branch) and
`parallel.join_node`, where the engine continues.

Attributes: `max_parallel` (default 4), `join_policy` = wait_all | first_success
(first_success cancels the other branches once one succeeds), `error_policy` =
continue | fail_fast (fail_fast cancels the rest after the first failure).
Cancelled branches stop at their next node boundary.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from shopfloor.errors import UserError
from shopfloor.pipeline.context import Context
from shopfloor.pipeline.edge_selection import route
from shopfloor.pipeline.engine import PARALLEL_JOIN_KEY as JOIN_KEY
from shopfloor.pipeline.engine import PARALLEL_RESULTS_KEY as RESULTS_KEY
from shopfloor.pipeline.engine import STEP_KEY, record_completed
from shopfloor.pipeline.events import (
    EventBus,
    ParallelBranchCompleted,
    ParallelBranchStarted,
    ParallelCompleted,
    ParallelStarted,
)
from shopfloor.pipeline.executor import NodeExecutor, RunStopped
from shopfloor.pipeline.graph import Edge, Graph, Node
from shopfloor.pipeline.handler import HandlerRegistry
from shopfloor.pipeline.node_attrs import as_float, as_int
from shopfloor.pipeline.outcome import Outcome, StageStatus

DEFAULT_MAX_PARALLEL = 4
DEFAULT_JOIN_POLICY = "wait_all"
DEFAULT_ERROR_POLICY = "continue"
JOIN_POLICIES = ("wait_all", "first_success")
ERROR_POLICIES = ("continue", "fail_fast")
FAN_IN_TYPE = "parallel.fan_in"
CANCELLED = "cancelled"


@dataclass
class BranchResult:
    id: str
    index: int
    status: str
    notes: str = ""
    failure_reason: str = ""
    score: float = 0.0
    last_node: str = ""
    completed_nodes: list[str] = field(default_factory=list)
    node_outcomes: dict[str, str] = field(default_factory=dict)
    updates: dict[str, Any] = field(default_factory=dict)


def find_join_node(graph: Graph, branches: list[Edge]) -> str:
    """The nearest fan-in node that every branch reaches (breadth-first); "" when they do not converge.

    The search walks through fan-in nodes, so a branch holding a nested
    parallel block still reaches the outer join past its inner one.
    """
    reach: list[dict[str, int]] = []
    for edge in branches:
        seen: dict[str, int] = {}
        queue = deque([(edge.target, 0)])
        while queue:
            node_id, depth = queue.popleft()
            if node_id in seen or node_id not in graph.nodes:
                continue
            seen[node_id] = depth
            queue.extend((e.target, depth + 1) for e in graph.outgoing(node_id))
        reach.append({n: d for n, d in seen.items() if graph.nodes[n].handler_type == FAN_IN_TYPE})
    common = set(reach[0]).intersection(*reach[1:]) if reach else set()
    if not common:
        return ""
    return min(common, key=lambda n: (max(r[n] for r in reach), n))


class ParallelHandler:
    def __init__(self, registry: HandlerRegistry, events: EventBus, stop_event: threading.Event) -> None:
        self.registry = registry
        self.events = events
        self.stop_event = stop_event

    def execute(self, node: Node, context: Context, graph: Graph, logs_root: Path) -> Outcome:
        branches = graph.outgoing(node.id)
        if not branches:
            return Outcome(StageStatus.FAIL, failure_reason=f"parallel node {node.id} has no branches")
        join_policy = node.str_attr("join_policy", DEFAULT_JOIN_POLICY)
        error_policy = node.str_attr("error_policy", DEFAULT_ERROR_POLICY)
        max_parallel = as_int(node.get("max_parallel"), DEFAULT_MAX_PARALLEL)
        if join_policy not in JOIN_POLICIES:
            raise UserError(f"unknown join_policy {join_policy!r}", where=f"node {node.id}",
                            fix=f"use one of {', '.join(JOIN_POLICIES)}")
        if error_policy not in ERROR_POLICIES:
            raise UserError(f"unknown error_policy {error_policy!r}", where=f"node {node.id}",
                            fix=f"use one of {', '.join(ERROR_POLICIES)}")
        if max_parallel < 1:
            raise UserError(f"max_parallel must be at least 1, got {max_parallel}", where=f"node {node.id}",
                            fix="set max_parallel=1 or more")
        join = find_join_node(graph, branches)
        if not join:
            return Outcome(StageStatus.FAIL, failure_reason=(
                f"the branches of parallel node {node.id} do not converge on a fan-in node"))
        step = context.get_string(STEP_KEY, "0")
        executor = NodeExecutor(self.registry, self.events, self.stop_event)
        cancel = threading.Event()
        started = time.monotonic()
        self.events.emit(ParallelStarted(len(branches), node.id))

        def run_branch(index: int, edge: Edge) -> BranchResult:
            if cancel.is_set():
                return BranchResult(edge.target, index, CANCELLED)
            self.events.emit(ParallelBranchStarted(edge.target, index))
            t0 = time.monotonic()
            result = self._walk(executor, edge, index, context.clone(), graph, logs_root, join, step, cancel)
            ok = result.status in ("success", "partial_success")
            self.events.emit(ParallelBranchCompleted(edge.target, index, round(time.monotonic() - t0, 4), ok))
            failed_fast = result.status == "fail" and error_policy == "fail_fast"
            if (ok and join_policy == "first_success") or failed_fast:
                cancel.set()
            return result

        with ThreadPoolExecutor(max_workers=min(max_parallel, len(branches)),
                                thread_name_prefix=f"parallel-{node.id}") as pool:
            futures = [pool.submit(run_branch, i, edge) for i, edge in enumerate(branches)]
            results = [f.result() for f in futures]  # re-raises RunStopped from any branch
        successes = sum(r.status in ("success", "partial_success") for r in results)
        failures = sum(r.status == "fail" for r in results)
        self.events.emit(ParallelCompleted(round(time.monotonic() - started, 4), successes, failures))
        updates = {RESULTS_KEY: [asdict(r) for r in results], JOIN_KEY: join,
                   "parallel.success_count": successes, "parallel.failure_count": failures}
        if join_policy == "first_success":
            status = StageStatus.SUCCESS if successes else StageStatus.FAIL
        elif error_policy == "fail_fast" and failures:
            status = StageStatus.FAIL
        else:
            status = StageStatus.SUCCESS if failures == 0 else StageStatus.PARTIAL_SUCCESS
        reason = "" if status != StageStatus.FAIL else f"{failures} of {len(results)} branches failed"
        return Outcome(status, context_updates=updates, failure_reason=reason,
                       notes=f"{successes} of {len(results)} branches succeeded; join at {join or '(none)'}")

    def _walk(self, executor: NodeExecutor, edge: Edge, index: int, context: Context, graph: Graph,
              logs_root: Path, join: str, step: str, cancel: threading.Event) -> BranchResult:
        result = BranchResult(edge.target, index, "success")
        retries: dict[str, int] = {}
        attempts: dict[str, int] = {}
        current = edge.target
        position = 0
        while current and current != join:
            if self.stop_event.is_set():
                raise RunStopped(current)
            if cancel.is_set():
                result.status = CANCELLED
                break
            node = graph.nodes[current]
            if node.handler_type == "exit":
                break
            key = f"{step}.{index}.{position}"
            context.set(STEP_KEY, key)  # a nested parallel node keys its own branches under this one
            outcome = executor.recover(node, logs_root, key, index) or executor.execute(
                node, context, graph, logs_root, step=key, index=index, retries=retries,
                attempts=attempts)
            position += 1
            record_completed(result.completed_nodes, result.node_outcomes, node, outcome)
            result.status, result.notes, result.failure_reason = (
                outcome.status.value, outcome.notes, outcome.failure_reason)
            result.last_node = node.id
            context.apply_updates(outcome.context_updates)
            result.updates.update({k: v for k, v in outcome.context_updates.items()
                                   if not k.startswith(("internal.", "parallel."))})
            context.set("outcome", outcome.status.value)
            nested_join = outcome.context_updates.get(JOIN_KEY) if node.handler_type == "parallel" else None
            if nested_join and outcome.status != StageStatus.FAIL:
                current = str(nested_join)
                continue
            nxt = route(node, outcome, context, graph)
            current = nxt.target if nxt else ""
        result.score = as_float(context.get("score"), 0.0)
        return result
