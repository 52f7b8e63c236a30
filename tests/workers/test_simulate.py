"""The simulate CodergenBackend: scripted, deterministic outcomes from node attributes."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from shopfloor.config import ProjectFile
from shopfloor.pipeline.context import Context
from shopfloor.pipeline.executor import ATTEMPT_KEY, RunStopped
from shopfloor.pipeline.graph import Node
from shopfloor.pipeline.outcome import Outcome, StageStatus
from shopfloor.pipeline.scope import RunScope
from shopfloor.workers.simulate import SimulateBackend, create_backend


def call(node: Node, execution: int, backend: SimulateBackend | None = None) -> str | Outcome:
    context = Context({ATTEMPT_KEY: execution})
    return (backend or SimulateBackend()).run(node, "Do the thing\nfor $goal", context)


def test_plain_success_returns_the_response_text() -> None:
    assert call(Node("plan"), 1) == "[Simulated] Response for stage: plan\nfor $goal"
    assert call(Node("plan", {"sim.response": "custom"}), 1) == "custom"


def test_outcome_sequence_by_execution_and_last_entry_repeats() -> None:
    node = Node("n", {"sim.outcomes": "fail,retry,partial_success"})
    statuses = [call(node, i) for i in (1, 2, 3, 4)]
    assert [s.status for s in statuses if isinstance(s, Outcome)] == [
        StageStatus.FAIL,
        StageStatus.RETRY,
        StageStatus.PARTIAL_SUCCESS,
        StageStatus.PARTIAL_SUCCESS,
    ]


def test_fail_attempts_then_success() -> None:
    node = Node("n", {"sim.fail_attempts": "2"})
    first, third = call(node, 1), call(node, 3)
    assert isinstance(first, Outcome) and first.status == StageStatus.FAIL
    assert "execution 1" in first.failure_reason
    assert isinstance(third, str)


def test_routing_hints_and_context_updates() -> None:
    outcome = call(
        Node(
            "n",
            {
                "sim.preferred_label": "Fix",
                "sim.suggested_next": "a, b",
                "sim.set": "tests_passed=true,score=3",
            },
        ),
        1,
    )
    assert isinstance(outcome, Outcome) and outcome.status == StageStatus.SUCCESS
    assert outcome.preferred_label == "Fix" and outcome.suggested_next_ids == ["a", "b"]
    assert outcome.context_updates["tests_passed"] == "true" and outcome.context_updates["score"] == "3"


def test_bad_scripts_raise_clear_errors() -> None:
    with pytest.raises(ValueError, match="unknown simulated outcome 'maybe'"):
        call(Node("n", {"sim.outcome": "maybe"}), 1)
    with pytest.raises(ValueError, match="must look like key=value"):
        call(Node("n", {"sim.set": "novalue"}), 1)


def test_delay_is_cut_short_by_a_stop_request(tmp_path: Path) -> None:
    stop = threading.Event()
    scope = RunScope("r", tmp_path, ProjectFile(None, {}), None, lambda kind, data: None, stop_requested=stop)
    backend = create_backend(scope, {})
    threading.Timer(0.1, stop.set).start()
    with pytest.raises(RunStopped):
        call(Node("n", {"sim.delay": "30s"}), 1, backend)
