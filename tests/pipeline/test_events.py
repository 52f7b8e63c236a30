"""attractor-spec 9.6: typed events, delivered to observers and appended to a hash-chained events.jsonl."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shopfloor.observe.eventlog import ChainError, read_events, verify
from shopfloor.pipeline import events as ev
from shopfloor.pipeline.interviewer import AutoApproveInterviewer
from tests.support.pipeline_runs import EventRecorder, run_fixture


def test_events_reach_observers_and_the_log_in_the_same_order(tmp_path: Path) -> None:
    recorder = EventRecorder()
    run_fixture("engine_parallel", tmp_path / "r", observers=[recorder])
    logged = [r.kind for r in read_events(tmp_path / "r" / "events.jsonl")]
    assert logged == recorder.kinds()
    assert logged[0] == "PipelineStarted" and logged[-1] == "PipelineCompleted"
    for kind in (
        "StageStarted",
        "StageCompleted",
        "ParallelStarted",
        "ParallelBranchStarted",
        "ParallelBranchCompleted",
        "ParallelCompleted",
        "CheckpointSaved",
    ):
        assert kind in logged
    assert verify(tmp_path / "r" / "events.jsonl") == len(logged)


def test_failure_retry_and_interview_events(tmp_path: Path) -> None:
    recorder = EventRecorder()
    run_fixture("engine_retry", tmp_path / "retry", observers=[recorder])
    failed = recorder.of(ev.StageFailed)
    assert [(e.name, e.will_retry) for e in failed] == [("flaky", True), ("flaky", True)]
    human = EventRecorder()
    run_fixture("engine_human", tmp_path / "human", observers=[human], interviewer=AutoApproveInterviewer())
    [started] = human.of(ev.InterviewStarted)
    [completed] = human.of(ev.InterviewCompleted)
    assert (started.question, started.stage) == ("Review Changes", "review_gate")
    assert completed.answer == "[A] Approve"


def test_the_log_is_flushed_before_the_next_node_starts(tmp_path: Path) -> None:
    log = tmp_path / "r" / "events.jsonl"
    checked: list[str] = []

    def on_event(event: ev.PipelineEvent) -> None:
        if isinstance(event, ev.StageStarted) and event.name == "polish":
            kinds = [json.loads(line)["kind"] for line in log.read_text().splitlines()]
            names = [json.loads(line)["data"].get("name") for line in log.read_text().splitlines()]
            assert ("StageCompleted", "draft") in zip(kinds, names, strict=True)
            checked.append(event.name)

    run_fixture("engine_linear", tmp_path / "r", observers=[on_event])
    assert checked == ["polish"]


def test_tampering_with_the_log_is_detected(tmp_path: Path) -> None:
    run_fixture("engine_linear", tmp_path / "r")
    log = tmp_path / "r" / "events.jsonl"
    lines = log.read_text().splitlines()
    record = json.loads(lines[3])
    record["data"]["name"] = "forged"
    lines[3] = json.dumps(record)
    log.write_text("\n".join(lines) + "\n")
    with pytest.raises(ChainError):
        verify(log)


def test_plugin_events_keep_their_kind(tmp_path: Path) -> None:
    bus = ev.EventBus(tmp_path / "events.jsonl")
    recorder = EventRecorder()
    bus.subscribe(recorder)
    bus.emit_raw("TwinStarted", {"twin": "slack"})
    bus.close()
    [record] = list(read_events(tmp_path / "events.jsonl"))
    assert (record.kind, record.data) == ("TwinStarted", {"twin": "slack"})
    assert ev.event_kind(recorder.events[0]) == "TwinStarted"
