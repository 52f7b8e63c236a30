"""attractor-spec 3 / DoD 11.3-11.4: the execution engine's traversal, goal gates and failure routing."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from shopfloor.errors import UserError
from shopfloor.pipeline.context import Context
from shopfloor.pipeline.events import GoalGateUnsatisfied, PipelineRestarted, StageStarted
from shopfloor.pipeline.graph import Edge, Graph, Node
from shopfloor.pipeline.outcome import Outcome, StageStatus
from shopfloor.pipeline.prepare import prepare_pipeline
from shopfloor.pipeline.runner import run_pipeline
from shopfloor.workers.simulate import SimulateBackend
from tests.support.pipeline_runs import EventRecorder, load, run_fixture


class Recording:
    """A custom handler that records how it was called and returns a scripted outcome."""

    def __init__(self, outcome: Outcome | None = None) -> None:
        self.calls: list[tuple[str, dict, Graph, Path]] = []
        self.outcome = outcome

    def execute(self, node: Node, context: Context, graph: Graph, logs_root: Path) -> Outcome | None:
        self.calls.append((node.id, context.snapshot(), graph, logs_root))
        return self.outcome


def graph_of(nodes: dict[str, dict], edges: list[tuple[str, str, dict]], **attrs: object) -> Graph:
    graph = Graph("G", dict(attrs))
    graph.nodes = {nid: Node(nid, a) for nid, a in nodes.items()}
    graph.edges = [Edge(s, t, a) for s, t, a in edges]
    return graph


def test_linear_pipeline_runs_end_to_end_and_writes_status_files(tmp_path: Path) -> None:
    result = run_fixture("engine_linear", tmp_path / "run")
    assert result.status == "success"
    assert result.completed_nodes == ["start", "draft", "polish", "publish", "done"]
    for node_id in result.completed_nodes:
        status = json.loads((tmp_path / "run" / node_id / "status.json").read_text())
        assert status["outcome"] == "success"
        assert status["node_id"] == node_id
    assert "Write a haiku" in (tmp_path / "run" / "draft" / "prompt.md").read_text()


def test_start_node_is_found_by_shape_and_handlers_get_node_context_graph_and_logs_root(
    tmp_path: Path,
) -> None:
    probe = Recording(Outcome(StageStatus.SUCCESS, context_updates={"probe.seen": "yes"}))
    graph = graph_of(
        {
            "begin": {"shape": "Mdiamond"},
            "p": {"type": "probe"},
            "q": {"type": "probe"},
            "end": {"shape": "Msquare"},
        },
        [("begin", "p", {}), ("p", "q", {}), ("q", "end", {})],
    )
    result = run_pipeline(graph, logs_root=tmp_path / "r", handlers={"probe": probe})
    assert result.completed_nodes == ["begin", "p", "q", "end"]
    (first, _, graph_arg, root), (second, ctx_q, _, _) = probe.calls
    assert (first, second) == ("p", "q")
    assert graph_arg is graph and root == tmp_path / "r"
    assert ctx_q["probe.seen"] == "yes", "context updates from one node are visible to the next"
    assert ctx_q["outcome"] == "success"


def test_handler_is_resolved_from_shape(tmp_path: Path) -> None:
    recorder = EventRecorder()
    run_fixture("engine_ten_nodes", tmp_path / "r", observers=[recorder])
    handlers = {e.name: e.handler for e in recorder.of(StageStarted)}
    assert handlers["start"] == "start" and handlers["pick"] == "conditional"
    assert handlers["n3"] == "tool" and handlers["n1"] == "codergen" and handlers["done"] == "exit"


def test_ten_plus_node_pipeline_completes(tmp_path: Path) -> None:
    result = run_fixture("engine_ten_nodes", tmp_path / "r")
    assert result.status == "success"
    assert len(result.completed_nodes) >= 11
    assert "left" in result.completed_nodes and "right" not in result.completed_nodes
    assert result.context["tool.output"].strip() == "three"


@pytest.mark.parametrize(
    ("scripted", "taken", "skipped"), [("success", "ship", "fix"), ("fail", "fix", "ship")]
)
def test_conditional_branching_follows_success_and_fail_paths(
    tmp_path: Path, scripted: str, taken: str, skipped: str
) -> None:
    graph = load("engine_branch")
    graph.nodes["check"].attrs["sim.outcome"] = scripted
    result = run_pipeline(graph, logs_root=tmp_path / "r", backend=SimulateBackend())
    assert taken in result.completed_nodes and skipped not in result.completed_nodes
    assert result.status == "success"  # the fail path is a handled route to the exit


def test_terminal_node_stops_execution_even_with_outgoing_edges(tmp_path: Path) -> None:
    never = Recording(Outcome(StageStatus.SUCCESS))
    graph = graph_of(
        {"start": {"shape": "Mdiamond"}, "end": {"shape": "Msquare"}, "after": {"type": "never"}},
        [("start", "end", {}), ("end", "after", {})],
    )
    result = run_pipeline(graph, logs_root=tmp_path / "r", handlers={"never": never})
    assert result.completed_nodes == ["start", "end"] and never.calls == []


def test_goal_gate_blocks_exit_until_satisfied(tmp_path: Path) -> None:
    recorder = EventRecorder()
    result = run_fixture("engine_goal_gate", tmp_path / "r", observers=[recorder])
    assert result.status == "success"
    assert result.completed_nodes == ["start", "build", "verify", "build", "verify", "done"]
    [gate] = recorder.of(GoalGateUnsatisfied)
    assert (gate.node, gate.status, gate.retry_target) == ("verify", "fail", "build")


def test_goal_gate_allows_exit_when_satisfied(tmp_path: Path) -> None:
    graph = load("engine_goal_gate")
    graph.nodes["verify"].attrs["sim.outcomes"] = "success"
    recorder = EventRecorder()
    result = run_pipeline(graph, logs_root=tmp_path / "r", backend=SimulateBackend(), observers=[recorder])
    assert result.completed_nodes == ["start", "build", "verify", "done"]
    assert recorder.of(GoalGateUnsatisfied) == []


def test_unsatisfied_goal_gate_without_retry_target_fails_the_pipeline(tmp_path: Path) -> None:
    graph = load("engine_goal_gate")
    del graph.nodes["verify"].attrs["retry_target"]
    graph.nodes["verify"].attrs["sim.outcomes"] = "fail"
    result = run_pipeline(graph, logs_root=tmp_path / "r", backend=SimulateBackend())
    assert result.status == "fail"
    assert "goal gate verify unsatisfied" in result.outcome.failure_reason
    assert "done" not in result.completed_nodes


@pytest.mark.parametrize(
    "level", ["fallback_retry_target", "graph_retry_target", "graph_fallback_retry_target"]
)
def test_goal_gate_retry_target_falls_back_through_node_and_graph_levels(tmp_path: Path, level: str) -> None:
    graph = load("engine_goal_gate")
    del graph.nodes["verify"].attrs["retry_target"]
    graph.nodes["verify"].attrs["retry_target"] = "no_such_node"  # invalid: must be skipped
    if level == "fallback_retry_target":
        graph.nodes["verify"].attrs["fallback_retry_target"] = "build"
    elif level == "graph_retry_target":
        graph.attrs["retry_target"] = "build"
    else:
        graph.attrs["retry_target"] = "missing"
        graph.attrs["fallback_retry_target"] = "build"
    result = run_pipeline(graph, logs_root=tmp_path / "r", backend=SimulateBackend())
    assert result.status == "success"
    assert result.completed_nodes.count("build") == 2


def test_fail_without_fail_edge_or_retry_target_terminates_with_the_reason(tmp_path: Path) -> None:
    graph = graph_of(
        {
            "start": {"shape": "Mdiamond"},
            "work": {"sim.outcome": "fail"},
            "next": {},
            "end": {"shape": "Msquare"},
        },
        [("start", "work", {}), ("work", "next", {}), ("next", "end", {})],
    )
    result = run_pipeline(graph, logs_root=tmp_path / "r", backend=SimulateBackend())
    assert result.status == "fail"
    assert result.completed_nodes == ["start", "work"], "a failure must not take the unconditional edge"
    assert "simulated fail" in result.outcome.failure_reason


def test_fail_routes_to_node_retry_target(tmp_path: Path) -> None:
    graph = graph_of(
        {
            "start": {"shape": "Mdiamond"},
            "prep": {},
            "work": {"sim.outcomes": "fail,success", "retry_target": "prep"},
            "end": {"shape": "Msquare"},
        },
        [("start", "prep", {}), ("prep", "work", {}), ("work", "end", {})],
    )
    result = run_pipeline(graph, logs_root=tmp_path / "r", backend=SimulateBackend())
    assert result.status == "success"
    assert result.completed_nodes == ["start", "prep", "work", "prep", "work", "end"]


def test_handler_exception_becomes_a_fail_outcome(tmp_path: Path) -> None:
    class Boom:
        def execute(self, node: Node, context: Context, graph: Graph, logs_root: Path) -> Outcome:
            raise RuntimeError("kaboom")

    graph = graph_of(
        {"start": {"shape": "Mdiamond"}, "x": {"type": "boom"}, "end": {"shape": "Msquare"}},
        [("start", "x", {}), ("x", "end", {})],
    )
    result = run_pipeline(graph, logs_root=tmp_path / "r", handlers={"boom": Boom()})
    assert result.status == "fail" and result.outcome.failure_reason == "RuntimeError: kaboom"
    assert json.loads((tmp_path / "r" / "x" / "status.json").read_text())["outcome"] == "fail"


def test_auto_status_turns_a_silent_handler_into_success(tmp_path: Path) -> None:
    silent = Recording(None)
    nodes = {
        "start": {"shape": "Mdiamond"},
        "quiet": {"type": "silent", "auto_status": True},
        "mute": {"type": "silent"},
        "end": {"shape": "Msquare"},
    }
    graph = graph_of(nodes, [("start", "quiet", {}), ("quiet", "mute", {}), ("mute", "end", {})])
    result = run_pipeline(graph, logs_root=tmp_path / "r", handlers={"silent": silent})
    status = json.loads((tmp_path / "r" / "quiet" / "status.json").read_text())
    assert status["outcome"] == "success" and status["notes"].startswith("auto-status")
    assert result.node_outcomes["mute"] == "fail" and result.status == "fail"


def test_silent_handler_may_report_through_status_file(tmp_path: Path) -> None:
    class Writer:
        def execute(self, node: Node, context: Context, graph: Graph, logs_root: Path) -> None:
            (logs_root / node.id / "status.json").write_text(
                json.dumps({"outcome": "partial_success", "context_updates": {"written.by": "tool"}})
            )

    graph = graph_of(
        {"start": {"shape": "Mdiamond"}, "w": {"type": "writer"}, "end": {"shape": "Msquare"}},
        [("start", "w", {}), ("w", "end", {})],
    )
    result = run_pipeline(graph, logs_root=tmp_path / "r", handlers={"writer": Writer()})
    assert result.node_outcomes["w"] == "partial_success" and result.context["written.by"] == "tool"


def test_node_timeout_fails_a_slow_handler(tmp_path: Path) -> None:
    class Slow:
        def execute(self, node: Node, context: Context, graph: Graph, logs_root: Path) -> Outcome:
            time.sleep(2)
            return Outcome(StageStatus.SUCCESS)

    graph = graph_of(
        {
            "start": {"shape": "Mdiamond"},
            "slow": {"type": "slow", "timeout": "100ms"},
            "end": {"shape": "Msquare"},
        },
        [("start", "slow", {}), ("slow", "end", {})],
    )
    started = time.monotonic()
    result = run_pipeline(graph, logs_root=tmp_path / "r", handlers={"slow": Slow()})
    assert result.status == "fail" and "timed out after 0.1s" in result.outcome.failure_reason
    assert time.monotonic() - started < 1.9, "the engine must not wait for the abandoned handler"


def test_stop_between_nodes_checkpoints_and_resume_finishes(tmp_path: Path) -> None:
    stop = threading.Event()

    class Stopper:
        def execute(self, node: Node, context: Context, graph: Graph, logs_root: Path) -> Outcome:
            stop.set()
            return Outcome(StageStatus.SUCCESS)

    graph = graph_of(
        {"start": {"shape": "Mdiamond"}, "a": {"type": "stopper"}, "b": {}, "end": {"shape": "Msquare"}},
        [("start", "a", {}), ("a", "b", {}), ("b", "end", {})],
    )
    result = run_pipeline(graph, logs_root=tmp_path / "r", handlers={"stopper": Stopper()}, stop_event=stop)
    assert result.status == "stopped" and result.completed_nodes == ["start", "a"]
    ckpt = json.loads((tmp_path / "r" / "checkpoint.json").read_text())
    assert ckpt["status"] == "stopped" and ckpt["next_node"] == "b"

    from shopfloor.pipeline.interviewer import AutoApproveInterviewer
    from shopfloor.pipeline.runner import core_registry_factory, resume_run

    resumed = resume_run(
        graph,
        logs_root=tmp_path / "r",
        interviewer=AutoApproveInterviewer(),
        registry_factory=core_registry_factory(None, {"stopper": Stopper()}),
    )
    assert resumed.status == "success"
    assert resumed.completed_nodes == ["start", "a", "b", "end"]


def test_stop_inside_a_retry_wait_ends_promptly(tmp_path: Path) -> None:
    stop = threading.Event()
    graph = graph_of(
        {
            "start": {"shape": "Mdiamond"},
            "flaky": {"sim.outcome": "fail", "max_retries": 3, "retry.initial_delay": "30s"},
            "end": {"shape": "Msquare"},
        },
        [("start", "flaky", {}), ("flaky", "end", {})],
    )
    threading.Timer(0.3, stop.set).start()
    started = time.monotonic()
    result = run_pipeline(graph, logs_root=tmp_path / "r", backend=SimulateBackend(), stop_event=stop)
    assert result.status == "stopped" and time.monotonic() - started < 10
    assert json.loads((tmp_path / "r" / "checkpoint.json").read_text())["next_node"] == "flaky"


def test_runaway_loop_is_failed_after_max_steps(tmp_path: Path) -> None:
    from shopfloor.config import ProjectFile
    from shopfloor.pipeline.engine import PipelineEngine
    from shopfloor.pipeline.events import EventBus
    from shopfloor.pipeline.handler import HandlerRegistry
    from shopfloor.pipeline.handlers import register_core_handlers
    from shopfloor.pipeline.interviewer import AutoApproveInterviewer
    from shopfloor.pipeline.scope import RunScope

    graph = graph_of(
        {"start": {"shape": "Mdiamond"}, "a": {}, "b": {}, "end": {"shape": "Msquare"}},
        [("start", "a", {}), ("a", "b", {}), ("b", "a", {}), ("a", "end", {"condition": "x=1"})],
    )
    events = EventBus(tmp_path / "events.jsonl")
    scope = RunScope("r", tmp_path, ProjectFile(None, {}), AutoApproveInterviewer(), events.emit_raw)
    registry = register_core_handlers(HandlerRegistry(), scope, events, None)
    result = PipelineEngine(graph, registry, scope, events, max_steps=25).run()
    assert result.status == "fail" and "25 node executions" in result.outcome.failure_reason


def test_loop_restart_continues_in_a_fresh_log_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MARK", str(tmp_path / "marker"))
    recorder = EventRecorder()
    result = run_fixture("engine_loop_restart", tmp_path / "r", observers=[recorder])
    assert result.status == "success"
    assert result.logs_root == tmp_path / "r" / "restart-1"
    assert result.completed_nodes == ["work", "check", "done"]
    first = json.loads((tmp_path / "r" / "checkpoint.json").read_text())
    assert first["status"] == "restarted" and first["restarted_into"] == "restart-1"
    assert (tmp_path / "r" / "restart-1" / "events.jsonl").exists()
    [restart] = recorder.of(PipelineRestarted)
    assert restart.target == "work"


def test_missing_start_node_is_a_user_error(tmp_path: Path) -> None:
    graph = graph_of({"a": {}, "end": {"shape": "Msquare"}}, [("a", "end", {})])
    with pytest.raises(UserError, match="no start node"):
        run_pipeline(graph, logs_root=tmp_path / "r")


def test_custom_handler_registered_by_type_runs_from_dot(tmp_path: Path) -> None:
    graph = prepare_pipeline(
        'digraph C { start [shape=Mdiamond]; x [type="my_custom_type", shape=box, '
        'custom_attr="value"]; end [shape=Msquare]; start -> x -> end }'
    )
    custom = Recording(Outcome(StageStatus.SUCCESS, notes="custom ran"))
    result = run_pipeline(graph, logs_root=tmp_path / "r", handlers={"my_custom_type": custom})
    assert [c[0] for c in custom.calls] == ["x"] and result.status == "success"
    assert json.loads((tmp_path / "r" / "x" / "status.json").read_text())["notes"] == "custom ran"


def test_skipped_node_proceeds_and_does_not_count_for_goal_gates(tmp_path: Path) -> None:
    graph = graph_of(
        {
            "start": {"shape": "Mdiamond"},
            "lint": {"goal_gate": True, "sim.outcome": "skipped"},
            "ship": {},
            "end": {"shape": "Msquare"},
        },
        [("start", "lint", {}), ("lint", "ship", {}), ("ship", "end", {})],
    )
    result = run_pipeline(graph, logs_root=tmp_path / "r", backend=SimulateBackend())
    assert result.status == "success"
    assert result.completed_nodes == ["start", "lint", "ship", "end"]
    assert result.node_outcomes["lint"] == "skipped"


def test_endless_loop_restarts_fail_the_run(tmp_path: Path) -> None:
    from shopfloor.config import ProjectFile
    from shopfloor.pipeline.engine import PipelineEngine
    from shopfloor.pipeline.events import EventBus
    from shopfloor.pipeline.handler import HandlerRegistry
    from shopfloor.pipeline.handlers import register_core_handlers
    from shopfloor.pipeline.interviewer import AutoApproveInterviewer
    from shopfloor.pipeline.scope import RunScope

    graph = graph_of(
        {"start": {"shape": "Mdiamond"}, "a": {}, "end": {"shape": "Msquare"}},
        [("start", "a", {}), ("a", "a", {"loop_restart": True}), ("a", "end", {"condition": "x=1"})],
    )
    events = EventBus(tmp_path / "events.jsonl")
    scope = RunScope("r", tmp_path, ProjectFile(None, {}), AutoApproveInterviewer(), events.emit_raw)
    registry = register_core_handlers(HandlerRegistry(), scope, events, None)
    result = PipelineEngine(graph, registry, scope, events, max_restarts=3).run()
    assert result.status == "fail" and "more than 3 loop_restart" in result.outcome.failure_reason
    assert result.logs_root == tmp_path / "restart-3"
