"""The manager loop (attractor-spec 4.11): supervise a child pipeline through observe/steer/wait cycles.

The child is the graph's `stack.child_dotfile`, run by the same engine in a
thread with its own run directory (`{logs_root}/{node_id}/child`); with
`stack.child_autostart=false` the manager observes an already running child at
`stack.child_logs_root` instead. Each cycle:

- observe: read the child's checkpoint into `stack.child.*` context keys
  (status, outcome, active_stage, completed_count, retry_count);
- steer: write `manager.steer_prompt` into the child's active stage directory
  as `steer.md` (at most once per `manager.steer_cooldown`);
- stop when the child completes or fails, or `manager.stop_condition` holds;
- wait: `manager.poll_interval`, ended early by the child finishing or a stop request.

A child left unfinished by a crash is resumed, not restarted.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shopfloor.pipeline import checkpoint as cp
from shopfloor.pipeline.checkpoint import Checkpoint
from shopfloor.pipeline.conditions import evaluate_condition
from shopfloor.pipeline.context import Context
from shopfloor.pipeline.engine import PipelineEngine
from shopfloor.pipeline.events import EventBus
from shopfloor.pipeline.executor import RunStopped
from shopfloor.pipeline.graph import Graph, Node
from shopfloor.pipeline.handler import HandlerRegistry
from shopfloor.pipeline.node_attrs import as_bool, as_int, as_seconds
from shopfloor.pipeline.outcome import Outcome, StageStatus
from shopfloor.pipeline.run_dir import EVENTS_FILE
from shopfloor.pipeline.scope import RunScope

DEFAULT_POLL_INTERVAL_S = 45.0
DEFAULT_MAX_CYCLES = 1000
DEFAULT_STEER_COOLDOWN_S = 300.0
DEFAULT_ACTIONS = ("observe", "wait")
#: Longest single sleep inside a wait, so stop requests and child completion are noticed promptly.
WAIT_SLICE_S = 0.05
STEER_FILE = "steer.md"

GraphLoader = Callable[[Path], Graph]


def _child_status(ckpt: Checkpoint | None) -> str:
    if ckpt is None:
        return "starting"
    return {cp.SUCCESS: "completed", cp.FAIL: "failed"}.get(ckpt.status, "running")


def observe_child(child_root: Path) -> dict[str, Any]:
    """The child's progress as `stack.child.*` context values."""
    try:
        ckpt: Checkpoint | None = Checkpoint.load(child_root)
    except Exception:  # not started yet, or mid-rename on a platform without atomic replace
        ckpt = None
    return {
        "stack.child.status": _child_status(ckpt),
        "stack.child.outcome": ckpt.status if ckpt and ckpt.status in cp.FINISHED_STATES else "",
        "stack.child.active_stage": ckpt.next_node if ckpt else "",
        "stack.child.completed_count": len(ckpt.completed_nodes) if ckpt else 0,
        "stack.child.retry_count": sum(ckpt.node_retries.values()) if ckpt else 0,
        "stack.child.logs_root": str(child_root),
    }


class ManagerLoopHandler:
    handles_timeout = True

    def __init__(self, registry: HandlerRegistry, scope: RunScope, load_graph: GraphLoader) -> None:
        self.registry = registry
        self.scope = scope
        self.load_graph = load_graph

    def execute(self, node: Node, context: Context, graph: Graph, logs_root: Path) -> Outcome:
        poll = as_seconds(node.get("manager.poll_interval"))
        poll = DEFAULT_POLL_INTERVAL_S if poll is None else poll
        max_cycles = as_int(node.get("manager.max_cycles"), DEFAULT_MAX_CYCLES)
        cooldown = as_seconds(node.get("manager.steer_cooldown"))
        cooldown = DEFAULT_STEER_COOLDOWN_S if cooldown is None else cooldown
        stop_condition = node.str_attr("manager.stop_condition")
        actions = [a.strip() for a in node.str_attr("manager.actions", ",".join(DEFAULT_ACTIONS)).split(",")]
        autostart = as_bool(node.get("stack.child_autostart"), default=True)
        child_stop = threading.Event()
        child_done = threading.Event()
        self._child_error: list[str] = []
        if autostart:
            child_root = logs_root / node.id / "child"
            thread = self._start_child(node, graph, child_root, child_stop, child_done)
        else:
            child_root = Path(node.str_attr("stack.child_logs_root")
                              or str(graph.get("stack.child_logs_root", "")))
            thread = None
        last_steer = float("-inf")
        try:
            for _cycle in range(max(max_cycles, 1)):
                state = observe_child(child_root)
                if "observe" in actions:
                    context.apply_updates(state)
                if self._child_error:
                    return self._outcome(StageStatus.FAIL, state,
                                         reason=f"Child crashed: {self._child_error[0]}")
                if ("steer" in actions and time.monotonic() - last_steer >= cooldown
                        and self._steer(node, graph, child_root, state["stack.child.active_stage"])):
                    last_steer = time.monotonic()
                if state["stack.child.status"] == "completed":
                    return self._outcome(StageStatus.SUCCESS, state, notes="Child completed")
                if state["stack.child.status"] == "failed":
                    return self._outcome(StageStatus.FAIL, state, reason="Child failed")
                if stop_condition and evaluate_condition(stop_condition, None, context):
                    return self._outcome(StageStatus.SUCCESS, state, notes="Stop condition satisfied")
                if "wait" in actions:
                    self._wait(poll, child_done)
                if self.scope.stop_requested.is_set():
                    raise RunStopped(node.id)
            return self._outcome(StageStatus.FAIL, observe_child(child_root), reason="Max cycles exceeded")
        finally:
            child_stop.set()
            if thread is not None:
                thread.join()

    def _outcome(self, status: StageStatus, state: dict[str, Any], *, notes: str = "",
                 reason: str = "") -> Outcome:
        return Outcome(status, context_updates=state, notes=notes, failure_reason=reason)

    def _wait(self, seconds: float, child_done: threading.Event) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not child_done.is_set():
            if self.scope.stop_requested.wait(min(WAIT_SLICE_S, max(deadline - time.monotonic(), 0))):
                return

    def _steer(self, node: Node, graph: Graph, child_root: Path, active_stage: str) -> bool:
        message = node.str_attr("manager.steer_prompt").replace("$goal", graph.goal)
        if not message or not active_stage:
            return False
        stage_dir = child_root / active_stage
        stage_dir.mkdir(parents=True, exist_ok=True)
        with open(stage_dir / STEER_FILE, "a") as fh:
            fh.write(f"{message}\n")
        return True

    def _start_child(self, node: Node, graph: Graph, child_root: Path, child_stop: threading.Event,
                     child_done: threading.Event) -> threading.Thread:
        dotfile = str(node.get("stack.child_dotfile") or graph.get("stack.child_dotfile") or "")
        if not dotfile:
            raise ValueError(f"manager node {node.id} needs stack.child_dotfile (graph or node attribute)")
        # A relative child path is read from stack.child_workdir, else next to the parent pipeline file.
        parent_dir = Path(graph.filename).parent if graph.filename != "<string>" else Path(".")
        workdir = Path(str(graph.get("stack.child_workdir") or parent_dir))
        child_graph = self.load_graph(workdir / dotfile)
        events = EventBus(child_root / EVENTS_FILE)
        scope = RunScope(run_id=f"{self.scope.run_id}.{node.id}", logs_root=child_root,
                         config=self.scope.config, interviewer=self.scope.interviewer,
                         emit=events.emit_raw, stop_requested=child_stop)
        engine = PipelineEngine(child_graph, self.registry, scope, events)
        resume = Checkpoint.exists(child_root)

        def run() -> None:
            try:
                engine.resume() if resume else engine.run()
            except Exception as exc:  # reported as the manager node's failure
                self._child_error.append(f"{type(exc).__name__}: {exc}")
            finally:
                events.close()
                child_done.set()

        def relay_stop() -> None:  # the parent's stop request reaches the child
            while not child_done.is_set():
                if self.scope.stop_requested.wait(WAIT_SLICE_S):
                    child_stop.set()
                    return

        thread = threading.Thread(target=run, name=f"child-{node.id}", daemon=True)
        thread.start()
        threading.Thread(target=relay_stop, name=f"child-stop-{node.id}", daemon=True).start()
        return thread
