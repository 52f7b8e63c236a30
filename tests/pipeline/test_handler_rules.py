"""Lint rules for handler attributes: typos are caught before a run, with their location."""

from __future__ import annotations

from shopfloor.pipeline.handler_rules import handler_rules
from shopfloor.pipeline.prepare import Preparer


def rules_hit(source: str) -> list[tuple[str, str | None]]:
    diagnostics = Preparer(rules=handler_rules()).check(source).diagnostics
    names = {
        "handler_policy",
        "handler_attribute",
        "simulate_script",
        "tool_command",
        "manager_child",
        "parallel_join",
    }
    return sorted((d.rule, d.node_id) for d in diagnostics if d.rule in names)


def test_valid_handler_attributes_pass() -> None:
    assert (
        rules_hit(
            "digraph G { start [shape=Mdiamond]; fan [shape=component, join_policy=first_success, "
            'error_policy=fail_fast, max_parallel=2]; a [prompt="a", retry_policy=patient, '
            'sim.outcomes="fail,success", sim.set="k=v", sim.delay="10ms"]; j [shape=tripleoctagon]; '
            "done [shape=Msquare]; start -> fan -> a -> j -> done }"
        )
        == []
    )


def test_each_bad_attribute_is_reported() -> None:
    hits = rules_hit(
        "digraph G { start [shape=Mdiamond]; fan [shape=component, error_policy=never, "
        'max_parallel=0]; a [prompt="a", retry_policy=sometimes, sim.outcomes="fail,maybe", '
        'sim.set="novalue", human.timeout="soon"]; t [shape=parallelogram]; m [shape=house]; '
        "done [shape=Msquare]; start -> fan -> a -> t -> m -> done }"
    )
    assert hits == [
        ("handler_attribute", "a"),
        ("handler_attribute", "fan"),
        ("handler_policy", "a"),
        ("handler_policy", "fan"),
        ("manager_child", "m"),
        ("parallel_join", "fan"),
        ("simulate_script", "a"),
        ("simulate_script", "a"),
        ("tool_command", "t"),
    ]


def test_parallel_branches_that_never_meet_are_reported() -> None:
    hits = rules_hit(
        'digraph G { start [shape=Mdiamond]; fan [shape=component]; a [prompt="a"]; '
        'b [prompt="b"]; done [shape=Msquare]; start -> fan; fan -> a; fan -> b; a -> done; '
        "b -> done }"
    )
    assert hits == [("parallel_join", "fan")]
