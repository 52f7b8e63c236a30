"""attractor-spec 4 / DoD 11.6: the built-in handlers, run inside real pipelines."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from shopfloor.pipeline.context import Context
from shopfloor.pipeline.events import ParallelBranchCompleted, ParallelStarted
from shopfloor.pipeline.graph import Edge, Graph, Node
from shopfloor.pipeline.handlers.codergen import CodergenHandler
from shopfloor.pipeline.handlers.noop import ConditionalHandler, ExitHandler, StartHandler
from shopfloor.pipeline.interviewer import (
    Answer,
    AnswerValue,
    CallbackInterviewer,
    Question,
    QueueInterviewer,
)
from shopfloor.pipeline.outcome import Outcome, StageStatus
from shopfloor.pipeline.runner import run_pipeline
from shopfloor.workers.simulate import SimulateBackend
from tests.support.pipeline_runs import EventRecorder, load, run_fixture


def fan_graph(branches: dict[str, dict], **fan_attrs: object) -> Graph:
    graph = Graph("Fan")
    graph.nodes = {
        "start": Node("start", {"shape": "Mdiamond"}),
        "fan": Node("fan", {"shape": "component", **fan_attrs}),
        "join": Node("join", {"shape": "tripleoctagon"}),
        "end": Node("end", {"shape": "Msquare"}),
    }
    graph.edges = [Edge("start", "fan"), Edge("join", "end")]
    for name, attrs in branches.items():
        graph.nodes[name] = Node(name, attrs)
        graph.edges += [Edge("fan", name), Edge(name, "join")]
    return graph


def test_noop_handlers_return_success() -> None:
    for handler in (StartHandler(), ExitHandler(), ConditionalHandler()):
        outcome = handler.execute(Node("n"), Context(), Graph("g"), Path("."))
        assert outcome.status == StageStatus.SUCCESS


def test_codergen_expands_goal_calls_backend_and_logs_prompt_and_response(tmp_path: Path) -> None:
    seen: list[tuple[str, str]] = []

    class Backend:
        def run(self, node: Node, prompt: str, context: Context) -> str:
            seen.append((node.id, prompt))
            return f"done: {node.id}"

    graph = Graph("g", {"goal": "ship 1.0"})
    outcome = CodergenHandler(Backend()).execute(
        Node("plan", {"prompt": "Plan $goal"}), Context(), graph, tmp_path
    )
    assert seen == [("plan", "Plan ship 1.0")]
    assert (tmp_path / "plan" / "prompt.md").read_text() == "Plan ship 1.0"
    assert (tmp_path / "plan" / "response.md").read_text() == "done: plan"
    assert outcome.context_updates == {"last_stage": "plan", "last_response": "done: plan"}


def test_codergen_falls_back_to_label_and_passes_backend_outcomes_through(tmp_path: Path) -> None:
    class Backend:
        def run(self, node: Node, prompt: str, context: Context) -> Outcome:
            return Outcome(StageStatus.RETRY, failure_reason=prompt)

    outcome = CodergenHandler(Backend()).execute(
        Node("n", {"label": "Label text"}), Context(), Graph("g"), tmp_path
    )
    assert outcome.status == StageStatus.RETRY and outcome.failure_reason == "Label text"


def test_codergen_without_backend_simulates(tmp_path: Path) -> None:
    CodergenHandler(None).execute(Node("x", {"prompt": "p"}), Context(), Graph("g"), tmp_path)
    assert (tmp_path / "x" / "response.md").read_text() == "[Simulated] Response for stage: x"


def test_codergen_reads_a_status_file_written_by_the_backend(tmp_path: Path) -> None:
    class StatusWriter:
        def run(self, node: Node, prompt: str, context: Context) -> str:
            (tmp_path / node.id / "status.json").write_text(
                json.dumps({"outcome": "fail", "preferred_label": "Fix", "notes": "tests red"})
            )
            return "wrote status"

    outcome = CodergenHandler(StatusWriter()).execute(Node("n"), Context(), Graph("g"), tmp_path)
    assert (outcome.status, outcome.preferred_label, outcome.notes) == (StageStatus.FAIL, "Fix", "tests red")


def test_wait_human_presents_edge_choices_and_routes_on_selection(tmp_path: Path) -> None:
    asked: list[Question] = []

    def choose_fix_then_approve(question: Question) -> Answer:
        asked.append(question)
        key = "F" if len(asked) == 1 else "A"
        option = next(o for o in question.options if o.key == key)
        return Answer(value=key, selected_option=option)

    result = run_fixture(
        "engine_human", tmp_path / "r", interviewer=CallbackInterviewer(choose_fix_then_approve)
    )
    assert [(o.key, o.label) for o in asked[0].options] == [("A", "[A] Approve"), ("F", "[F] Fix")]
    assert asked[0].text == "Review Changes" and asked[0].stage == "review_gate"
    assert result.completed_nodes == ["start", "review_gate", "fixes", "review_gate", "ship_it", "done"]
    assert result.context["human.gate.selected"] == "A" and result.context["preferred_label"] == "[A] Approve"


def test_wait_human_skip_fails_and_timeout_uses_default_choice(tmp_path: Path) -> None:
    skipped = run_fixture("engine_human", tmp_path / "skip", interviewer=QueueInterviewer())
    assert skipped.status == "fail" and skipped.outcome.failure_reason == "human skipped interaction"

    graph = load("engine_human")
    graph.nodes["review_gate"].attrs["human.default_choice"] = "ship_it"
    timed_out = run_pipeline(
        graph,
        logs_root=tmp_path / "timeout",
        backend=SimulateBackend(),
        interviewer=QueueInterviewer([Answer(value=AnswerValue.TIMEOUT)]),
    )
    assert timed_out.completed_nodes == ["start", "review_gate", "ship_it", "done"]


def test_parallel_fans_out_and_fan_in_picks_the_best(tmp_path: Path) -> None:
    recorder = EventRecorder()
    result = run_fixture("engine_parallel", tmp_path / "r", observers=[recorder])
    assert result.status == "success"
    assert result.completed_nodes[:2] == ["start", "fan"]
    assert sorted(result.completed_nodes[2:5]) == ["alpha", "beta", "gamma"]
    assert result.completed_nodes[5:] == ["join", "report", "done"]
    assert result.context["parallel.fan_in.best_id"] == "beta", "highest score among successes"
    assert "branch.alpha" not in result.context, "branch context changes stay in the branch"
    results = {r["id"]: r for r in result.context["parallel.results"]}
    assert results["alpha"]["updates"]["branch.alpha"] == "seen"
    assert (tmp_path / "r" / "gamma" / "stdout.txt").read_text().strip() == "gamma-output"
    assert recorder.of(ParallelStarted)[0].branch_count == 3
    assert len(recorder.of(ParallelBranchCompleted)) == 3


class Gauge:
    """A branch handler that measures how many branches run at the same time."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.active = 0
        self.peak = 0

    def execute(self, node: Node, context: Context, graph: Graph, logs_root: Path) -> Outcome:
        with self.lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
        time.sleep(0.15)
        with self.lock:
            self.active -= 1
        return Outcome(StageStatus.SUCCESS)


def test_parallel_concurrency_is_real_and_bounded_by_max_parallel(tmp_path: Path) -> None:
    gauge = Gauge()
    graph = fan_graph({f"b{i}": {"type": "gauge"} for i in range(6)}, max_parallel=2)
    result = run_pipeline(graph, logs_root=tmp_path / "r", handlers={"gauge": gauge})
    assert result.status == "success"
    assert gauge.peak == 2


def test_parallel_wait_all_with_a_failed_branch_is_partial_and_fan_in_still_picks(tmp_path: Path) -> None:
    graph = fan_graph({"good": {}, "bad": {"sim.outcome": "fail"}})
    result = run_pipeline(graph, logs_root=tmp_path / "r", backend=SimulateBackend())
    assert result.node_outcomes["fan"] == "partial_success"
    assert result.context["parallel.fan_in.best_id"] == "good"
    assert result.status == "success"


def test_parallel_all_branches_failing_fails_fan_in(tmp_path: Path) -> None:
    graph = fan_graph({"a": {"sim.outcome": "fail"}, "b": {"sim.outcome": "fail"}})
    result = run_pipeline(graph, logs_root=tmp_path / "r", backend=SimulateBackend())
    assert result.node_outcomes["join"] == "fail" and result.status == "fail"


def test_parallel_first_success_cancels_the_rest(tmp_path: Path) -> None:
    graph = fan_graph(
        {"quick": {}, "slow": {"sim.delay": "200ms"}, "slower": {"sim.delay": "300ms"}},
        join_policy="first_success",
        max_parallel=1,
    )
    result = run_pipeline(graph, logs_root=tmp_path / "r", backend=SimulateBackend())
    statuses = {r["id"]: r["status"] for r in result.context["parallel.results"]}
    assert statuses == {"quick": "success", "slow": "cancelled", "slower": "cancelled"}
    assert result.node_outcomes["fan"] == "success"


def test_parallel_fail_fast_error_policy(tmp_path: Path) -> None:
    graph = fan_graph(
        {"a_bad": {"sim.outcome": "fail"}, "b_later": {}}, error_policy="fail_fast", max_parallel=1
    )
    result = run_pipeline(graph, logs_root=tmp_path / "r", backend=SimulateBackend())
    statuses = {r["id"]: r["status"] for r in result.context["parallel.results"]}
    assert statuses == {"a_bad": "fail", "b_later": "cancelled"}
    assert result.node_outcomes["fan"] == "fail" and result.status == "fail"


def tool_graph(command: str, **attrs: object) -> Graph:
    graph = Graph("Tools")
    graph.nodes = {
        "start": Node("start", {"shape": "Mdiamond"}),
        "tool": Node("tool", {"shape": "parallelogram", "tool_command": command, **attrs}),
        "end": Node("end", {"shape": "Msquare"}),
    }
    graph.edges = [Edge("start", "tool"), Edge("tool", "end")]
    return graph


def test_tool_runs_a_real_command_and_captures_output(tmp_path: Path) -> None:
    result = run_pipeline(
        tool_graph('echo "node=$SHOPFLOOR_NODE_ID"; echo warn >&2'), logs_root=tmp_path / "r"
    )
    assert result.status == "success"
    assert result.context["tool.output"] == "node=tool\n" and result.context["tool.exit_code"] == 0
    assert (tmp_path / "r" / "tool" / "stderr.txt").read_text() == "warn\n"


def test_tool_command_learns_its_run_id(tmp_path: Path) -> None:
    result = run_pipeline(tool_graph('printf %s "$SHOPFLOOR_RUN_ID"'), logs_root=tmp_path / "r")
    assert result.run_id and result.context["tool.output"] == result.run_id


def test_tool_non_zero_exit_fails_with_stderr(tmp_path: Path) -> None:
    result = run_pipeline(tool_graph("echo broken >&2; exit 3"), logs_root=tmp_path / "r")
    assert result.status == "fail"
    assert result.outcome.failure_reason == "tool command exited with 3: broken"


def test_tool_timeout_kills_the_command(tmp_path: Path) -> None:
    marker = tmp_path / "survived"
    started = time.monotonic()
    result = run_pipeline(tool_graph(f"sleep 5; touch {marker}", timeout="300ms"), logs_root=tmp_path / "r")
    assert result.status == "fail" and "timed out after 0.3s" in result.outcome.failure_reason
    assert time.monotonic() - started < 4
    time.sleep(0.2)
    assert not marker.exists()


def test_tool_without_command_fails(tmp_path: Path) -> None:
    result = run_pipeline(tool_graph(""), logs_root=tmp_path / "r")
    assert result.outcome.failure_reason == "No tool_command specified"


def test_large_tool_output_is_stored_as_an_artifact(tmp_path: Path) -> None:
    result = run_pipeline(tool_graph("python3 -c \"print('x' * 10000)\""), logs_root=tmp_path / "r")
    assert len(result.context["tool.output"]) == 4096
    assert result.context["tool.output_artifact"] == "tool.stdout"


def test_manager_loop_supervises_a_child_pipeline(tmp_path: Path) -> None:
    result = run_fixture("engine_manager", tmp_path / "r")
    assert result.status == "success"
    assert result.completed_nodes == ["start", "manager", "after", "done"]
    assert result.context["stack.child.status"] == "completed"
    assert result.context["stack.child.completed_count"] == 4
    child = tmp_path / "r" / "manager" / "child"
    assert json.loads((child / "checkpoint.json").read_text())["completed_nodes"] == [
        "start",
        "work",
        "more",
        "done",
    ]
    steered = list(child.glob("*/steer.md"))
    assert steered and all("Keep it small" in p.read_text() for p in steered)


def test_manager_loop_fails_when_the_child_fails_and_stops_on_condition(tmp_path: Path) -> None:
    graph = load("engine_manager")
    graph.nodes["manager"].attrs["stack.child_dotfile"] = str(tmp_path / "child.dot")
    (tmp_path / "child.dot").write_text(
        'digraph C { start [shape=Mdiamond]; w [prompt="w", sim.outcome=fail]; done [shape=Msquare]; '
        "start -> w -> done }"
    )
    failed = run_pipeline(graph, logs_root=tmp_path / "fail", backend=SimulateBackend())
    assert failed.node_outcomes["manager"] == "fail"

    (tmp_path / "child.dot").write_text(
        'digraph C { start [shape=Mdiamond]; w [prompt="w", sim.delay="1s"]; done [shape=Msquare]; '
        "start -> w -> done }"
    )
    graph.nodes["manager"].attrs["manager.stop_condition"] = "context.stack.child.active_stage=w"
    stopped = run_pipeline(graph, logs_root=tmp_path / "cond", backend=SimulateBackend())
    assert stopped.node_outcomes["manager"] == "success"
    status = json.loads((tmp_path / "cond" / "manager" / "status.json").read_text())
    assert status["notes"] == "Stop condition satisfied"
    child = json.loads((tmp_path / "cond" / "manager" / "child" / "checkpoint.json").read_text())
    assert child["status"] == "stopped", "the manager stops its child when it is done supervising"


def test_fan_in_with_a_prompt_lets_the_backend_pick(tmp_path: Path) -> None:
    class Judge:
        def run(self, node: Node, prompt: str, context: Context) -> str:
            if node.id == "join":
                assert "Candidates:" in prompt and '"id": "alpha"' in prompt
                return "gamma is the most convincing candidate"
            return "done"

    graph = load("engine_parallel")
    graph.nodes["join"].attrs["prompt"] = "Pick the best approach for $goal"
    result = run_pipeline(graph, logs_root=tmp_path / "r", backend=Judge())
    assert result.context["parallel.fan_in.best_id"] == "gamma", "the heuristic alone would pick alpha"
    assert (tmp_path / "r" / "join" / "response.md").read_text().startswith("gamma")


def test_nested_parallel_blocks_join_at_their_own_fan_in(tmp_path: Path) -> None:
    graph = fan_graph({"solo": {}})
    graph.nodes.update({"inner": Node("inner", {"shape": "component"}), "y": Node("y"), "z": Node("z"),
                        "inner_join": Node("inner_join", {"shape": "tripleoctagon"})})
    graph.edges += [Edge("fan", "inner"), Edge("inner", "y"), Edge("inner", "z"), Edge("y", "inner_join"),
                    Edge("z", "inner_join"), Edge("inner_join", "join")]
    result = run_pipeline(graph, logs_root=tmp_path / "r")
    assert result.status == "success"
    assert {"solo", "inner", "y", "z", "inner_join", "join"} <= set(result.completed_nodes)
    assert result.completed_nodes[-2:] == ["join", "end"]
    assert result.node_outcomes["inner_join"] == "success"
