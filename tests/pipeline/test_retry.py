"""attractor-spec 3.5-3.6 / DoD 11.5: retry policy, backoff with jitter, and retries in a run."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from shopfloor.errors import UserError
from shopfloor.pipeline.events import StageRetrying
from shopfloor.pipeline.graph import Graph, Node
from shopfloor.pipeline.retry import PRESETS, BackoffConfig, build_retry_policy, default_should_retry
from shopfloor.pipeline.runner import run_pipeline
from shopfloor.workers.simulate import SimulateBackend
from tests.support.pipeline_runs import EventRecorder, load, run_fixture


def test_exponential_delays_are_capped() -> None:
    backoff = BackoffConfig(initial_delay_ms=200, backoff_factor=2.0, max_delay_ms=1000, jitter=False)
    assert [backoff.delay_for_attempt(a) for a in range(1, 6)] == [0.2, 0.4, 0.8, 1.0, 1.0]


def test_linear_backoff_is_constant() -> None:
    linear = BackoffConfig(500, 1.0, jitter=False)
    assert {linear.delay_for_attempt(a) for a in (1, 2, 3)} == {0.5}


def test_jitter_stays_within_half_to_one_and_a_half_and_varies() -> None:
    backoff = BackoffConfig(initial_delay_ms=1000, backoff_factor=1.0, jitter=True)
    rng = random.Random(7)
    delays = [backoff.delay_for_attempt(1, rng) for _ in range(200)]
    assert all(0.5 <= d <= 1.5 for d in delays)
    assert max(delays) - min(delays) > 0.5


def test_presets_match_the_spec_table() -> None:
    assert {
        name: (p.max_attempts, p.backoff.initial_delay_ms, p.backoff.backoff_factor)
        for name, p in PRESETS.items()
        if name != "none"
    } == {
        "standard": (5, 200, 2.0),
        "aggressive": (5, 500, 2.0),
        "linear": (3, 500, 1.0),
        "patient": (3, 2000, 3.0),
    }
    assert PRESETS["none"].max_attempts == 1


def test_policy_inherits_graph_default_and_legacy_alias() -> None:
    node = Node("n")
    assert build_retry_policy(node, Graph("g")).max_attempts == 1
    assert build_retry_policy(node, Graph("g", {"default_max_retries": 2})).max_attempts == 3
    assert build_retry_policy(node, Graph("g", {"default_max_retry": 4})).max_attempts == 5
    assert (
        build_retry_policy(Node("n", {"max_retries": 0}), Graph("g", {"default_max_retries": 2})).max_attempts
        == 1
    )


def test_policy_attributes_tune_backoff_and_presets() -> None:
    policy = build_retry_policy(Node("n", {"retry_policy": "patient", "retry.jitter": "false"}), Graph("g"))
    assert policy.max_attempts == 3 and policy.backoff.delay_for_attempt(2) == 6.0
    tuned = build_retry_policy(
        Node("n", {"retry.initial_delay": "10ms", "retry.backoff_factor": 3}),
        Graph("g", {"retry.max_delay": "50ms"}),
    )
    assert (tuned.backoff.initial_delay_ms, tuned.backoff.backoff_factor, tuned.backoff.max_delay_ms) == (
        10,
        3,
        50,
    )
    with pytest.raises(UserError, match="unknown retry_policy"):
        build_retry_policy(Node("n", {"retry_policy": "sometimes"}), Graph("g"))


def test_should_retry_separates_transient_from_terminal_errors() -> None:
    class Http(Exception):
        def __init__(self, status_code: int) -> None:
            self.status_code = status_code

    assert default_should_retry(TimeoutError()) and default_should_retry(ConnectionError())
    assert default_should_retry(Http(429)) and default_should_retry(Http(503))
    assert not default_should_retry(Http(401)) and not default_should_retry(Http(400))
    assert not default_should_retry(ValueError("bad prompt"))
    assert not default_should_retry(UserError("config"))


def test_retry_on_failure_with_max_retries_two(tmp_path: Path) -> None:
    recorder = EventRecorder()
    result = run_fixture("engine_retry", tmp_path / "r", observers=[recorder])
    assert result.status == "success"
    assert result.completed_nodes == ["start", "flaky", "after", "done"]
    assert [e.attempt for e in recorder.of(StageRetrying)] == [2, 3]
    assert json.loads((tmp_path / "r" / "flaky" / "status.json").read_text())["attempts"] == 3
    assert result.context["internal.retry_count.flaky"] == 0, "reset after success"


def test_retries_exhausted_uses_final_outcome_for_routing(tmp_path: Path) -> None:
    graph = load("engine_retry")
    graph.nodes["flaky"].attrs["sim.fail_attempts"] = 5
    result = run_pipeline(graph, logs_root=tmp_path / "r", backend=SimulateBackend())
    assert result.status == "fail" and result.node_outcomes["flaky"] == "fail"
    ckpt = json.loads((tmp_path / "r" / "checkpoint.json").read_text())
    assert ckpt["node_retries"] == {"flaky": 2} and ckpt["node_attempts"]["flaky"] == 3


def test_retry_status_exhausted_becomes_partial_when_allowed(tmp_path: Path) -> None:
    for allow, expected in ((True, "partial_success"), (False, "fail")):
        graph = load("engine_retry")
        graph.nodes["flaky"].attrs.update(
            {"sim.outcome": "retry", "sim.fail_attempts": 0, "allow_partial": allow}
        )
        result = run_pipeline(graph, logs_root=tmp_path / f"r{allow}", backend=SimulateBackend())
        assert result.node_outcomes["flaky"] == expected
        status = json.loads((tmp_path / f"r{allow}" / "flaky" / "status.json").read_text())
        assert status["attempts"] == 3


def test_backoff_delays_between_attempts_follow_the_policy(tmp_path: Path) -> None:
    graph = load("engine_retry")
    graph.attrs.update({"retry.initial_delay": "40ms", "retry.backoff_factor": 2})
    recorder = EventRecorder()
    run_pipeline(graph, logs_root=tmp_path / "r", backend=SimulateBackend(), observers=[recorder])
    assert [e.delay for e in recorder.of(StageRetrying)] == [0.04, 0.08]
