"""attractor-spec 5.3 / DoD 11.7: a checkpoint after every node, and resume (incl. the fidelity degrade)."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import pytest

from shopfloor.errors import UserError
from shopfloor.pipeline.checkpoint import Checkpoint
from shopfloor.pipeline.context import Context
from shopfloor.pipeline.events import CheckpointSaved, StageRecovered, StageStarted
from shopfloor.pipeline.graph import Graph, Node
from shopfloor.pipeline.interviewer import AutoApproveInterviewer
from shopfloor.pipeline.outcome import Outcome, StageStatus
from shopfloor.pipeline.runner import core_registry_factory, resume_run, run_pipeline
from shopfloor.workers.simulate import SimulateBackend
from tests.support.pipeline_runs import EventRecorder, load, run_fixture


def test_checkpoint_is_saved_after_every_node(tmp_path: Path) -> None:
    snapshots: list[dict] = []

    def on_event(event: object) -> None:
        if isinstance(event, StageStarted) and event.name != "start":
            snapshots.append(json.loads((tmp_path / "r" / "checkpoint.json").read_text()))

    result = run_fixture("engine_linear", tmp_path / "r", observers=[on_event])
    assert [s["completed_nodes"] for s in snapshots] == [
        ["start"],
        ["start", "draft"],
        ["start", "draft", "polish"],
        ["start", "draft", "polish", "publish"],
    ]
    assert [s["next_node"] for s in snapshots] == ["draft", "polish", "publish", "done"]
    final = Checkpoint.load(tmp_path / "r")
    assert final.current_node == "done" and final.status == "success" and final.next_node == ""
    assert final.completed_nodes == result.completed_nodes and final.context["outcome"] == "success"
    assert not [p for p in (tmp_path / "r").iterdir() if p.name.endswith(".tmp")], "no temp files left behind"


def test_checkpoint_saved_event_per_node(tmp_path: Path) -> None:
    recorder = EventRecorder()
    run_fixture("engine_linear", tmp_path / "r", observers=[recorder])
    # the initial checkpoint, one per node, and the final one at the exit
    assert [e.node_id for e in recorder.of(CheckpointSaved)] == [
        "",
        "start",
        "draft",
        "polish",
        "publish",
        "done",
    ]


#: Interruption points tried per pipeline, spread evenly over its nodes.
MAX_CUTS = 4


class StopAfter:
    """Requests a stop when the node named `at` runs, to interrupt a run at a chosen point."""

    def __init__(self, at: str, stop: threading.Event) -> None:
        self.at, self.stop = at, stop

    def __call__(self, event: object) -> None:
        if isinstance(event, StageStarted) and event.name == self.at:
            self.stop.set()


@pytest.mark.parametrize(
    "fixture", ["engine_goal_gate", "engine_parallel", "engine_retry", "engine_ten_nodes"]
)
def test_checkpoint_save_and_resume_produces_the_same_result(tmp_path: Path, fixture: str) -> None:
    whole = run_fixture(fixture, tmp_path / "whole")
    inner = whole.completed_nodes[1:-1]
    for cut in inner[:: max(1, len(inner) // MAX_CUTS)]:
        stop = threading.Event()
        root = tmp_path / f"cut-{cut}-{len(list(tmp_path.iterdir()))}"
        first = run_fixture(fixture, root, observers=[StopAfter(cut, stop)], stop_event=stop)
        if first.status != "stopped":
            continue  # the cut node ran inside a parallel branch; the run ended first
        resumed = resume_run(
            load(fixture),
            logs_root=root,
            interviewer=AutoApproveInterviewer(),
            registry_factory=core_registry_factory(SimulateBackend()),
        )
        assert resumed.status == whole.status
        assert resumed.completed_nodes == whole.completed_nodes, f"cut at {cut}"
        assert resumed.node_outcomes == whole.node_outcomes


def test_resume_does_not_rerun_completed_nodes(tmp_path: Path) -> None:
    calls: list[str] = []

    class Counting:
        def execute(self, node: Node, context: Context, graph: Graph, logs_root: Path) -> Outcome:
            calls.append(node.id)
            return Outcome(StageStatus.SUCCESS)

    stop = threading.Event()
    graph = load("engine_linear")
    for node_id in ("draft", "polish", "publish"):
        graph.nodes[node_id].attrs["type"] = "counting"
    handlers = {"counting": Counting()}
    first = run_pipeline(
        graph,
        logs_root=tmp_path / "r",
        handlers=handlers,
        observers=[StopAfter("polish", stop)],
        stop_event=stop,
    )
    assert first.status == "stopped" and calls == ["draft", "polish"]
    resumed = resume_run(
        graph,
        logs_root=tmp_path / "r",
        interviewer=AutoApproveInterviewer(),
        registry_factory=core_registry_factory(None, handlers),
    )
    assert calls == ["draft", "polish", "publish"]
    assert resumed.completed_nodes == ["start", "draft", "polish", "publish", "done"]


def test_a_node_that_finished_before_a_crash_is_recovered_from_its_status_file(tmp_path: Path) -> None:
    run_fixture("engine_linear", tmp_path / "r")
    # Rewind the checkpoint to "polish is next" as if the process died after polish wrote its status.
    ckpt = Checkpoint.load(tmp_path / "r")
    ckpt.completed_nodes, ckpt.next_node, ckpt.status = ["start", "draft"], "polish", "running"
    ckpt.node_outcomes = {"start": "success", "draft": "success"}
    ckpt.save(tmp_path / "r")
    recorder = EventRecorder()
    resumed = resume_run(
        load("engine_linear"),
        logs_root=tmp_path / "r",
        interviewer=AutoApproveInterviewer(),
        registry_factory=core_registry_factory(SimulateBackend()),
        observers=[recorder],
    )
    assert [e.name for e in recorder.of(StageRecovered)] == ["polish"]
    assert [e.name for e in recorder.of(StageStarted)] == ["publish", "done"]
    assert resumed.completed_nodes == ["start", "draft", "polish", "publish", "done"]


def test_resuming_a_finished_run_reports_it_without_running_anything(tmp_path: Path) -> None:
    whole = run_fixture("engine_linear", tmp_path / "r")
    recorder = EventRecorder()
    again = resume_run(
        load("engine_linear"),
        logs_root=tmp_path / "r",
        interviewer=AutoApproveInterviewer(),
        registry_factory=core_registry_factory(SimulateBackend()),
        observers=[recorder],
    )
    assert again.status == "success" and again.completed_nodes == whole.completed_nodes
    assert recorder.of(StageStarted) == []


def test_full_fidelity_degrades_once_after_resume(tmp_path: Path) -> None:
    graph = load("engine_linear")
    graph.attrs["default_fidelity"] = "full"
    seen: dict[str, str] = {}

    class Probe:
        def run(self, node: Node, prompt: str, context: Context) -> str:
            seen[node.id] = context.get_string("internal.fidelity")
            return "ok"

    stop = threading.Event()
    run_pipeline(
        graph,
        logs_root=tmp_path / "r",
        backend=Probe(),
        observers=[StopAfter("polish", stop)],
        stop_event=stop,
    )
    assert seen == {"draft": "full", "polish": "full"}
    resume_run(
        graph,
        logs_root=tmp_path / "r",
        interviewer=AutoApproveInterviewer(),
        registry_factory=core_registry_factory(Probe()),
    )
    assert seen["publish"] == "summary:high", "first node after resume"
    assert (tmp_path / "r" / "publish" / "prompt.md").read_text().startswith("Goal: Write a haiku")


def test_resume_errors_are_one_line_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no checkpoint to resume from"):
        Checkpoint.load(tmp_path)
    (tmp_path / "checkpoint.json").write_text("{torn")
    with pytest.raises(UserError, match="not valid JSON"):
        Checkpoint.load(tmp_path)
    with pytest.raises(UserError, match=r"no manifest\.json"):
        resume_run(
            load("engine_linear"),
            logs_root=tmp_path / "nowhere",
            interviewer=AutoApproveInterviewer(),
            registry_factory=core_registry_factory(None),
        )


def test_resume_before_the_first_checkpoint_starts_from_the_beginning(tmp_path: Path) -> None:
    run_fixture("engine_linear", tmp_path / "r")
    for path in (tmp_path / "r").iterdir():  # as if killed right after the manifest was written
        if path.name not in ("manifest.json", "pipeline.dot"):
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    resumed = resume_run(
        load("engine_linear"),
        logs_root=tmp_path / "r",
        interviewer=AutoApproveInterviewer(),
        registry_factory=core_registry_factory(SimulateBackend()),
    )
    assert resumed.status == "success"
    assert resumed.completed_nodes == ["start", "draft", "polish", "publish", "done"]


def test_resume_after_a_crash_during_a_loop_restart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MARK", str(tmp_path / "marker"))
    run_fixture("engine_loop_restart", tmp_path / "r")
    shutil.rmtree(tmp_path / "r" / "restart-1")  # killed after the old directory was closed
    resumed = resume_run(
        load("engine_loop_restart"),
        logs_root=tmp_path / "r",
        interviewer=AutoApproveInterviewer(),
        registry_factory=core_registry_factory(None),
    )
    assert resumed.status == "success" and resumed.logs_root == tmp_path / "r" / "restart-1"
    assert resumed.completed_nodes == ["work", "check", "done"]
