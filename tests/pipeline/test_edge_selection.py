"""attractor-spec 3.3: the five-step edge selection, label normalization and accelerator keys."""

from __future__ import annotations

from shopfloor.pipeline.context import Context
from shopfloor.pipeline.edge_selection import accelerator_key, normalize_label, select_edge
from shopfloor.pipeline.graph import Edge, Graph, Node
from shopfloor.pipeline.outcome import Outcome, StageStatus


def graph_from(node: str, edges: list[tuple[str, dict]]) -> Graph:
    graph = Graph("G")
    graph.nodes = {node: Node(node)} | {t: Node(t) for t, _ in edges}
    graph.edges = [Edge(node, t, a) for t, a in edges]
    return graph


def pick(
    edges: list[tuple[str, dict]], outcome: Outcome | None = None, context: Context | None = None
) -> str:
    graph = graph_from("n", edges)
    edge = select_edge(graph.nodes["n"], outcome or Outcome(StageStatus.SUCCESS), context or Context(), graph)
    assert edge is not None
    return edge.target


def test_condition_match_wins_over_weight() -> None:
    assert pick([("heavy", {"weight": 100}), ("cond", {"condition": "outcome=success"})]) == "cond"


def test_condition_matches_are_ranked_by_weight_then_target() -> None:
    edges = [
        ("b", {"condition": "outcome=success", "weight": 1}),
        ("a", {"condition": "outcome=success"}),
        ("c", {"condition": "outcome=success", "weight": 1}),
    ]
    assert pick(edges) == "b"


def test_false_conditions_fall_through_to_unconditional_edges() -> None:
    assert pick([("cond", {"condition": "outcome=fail"}), ("plain", {})]) == "plain"


def test_preferred_label_matches_after_normalization() -> None:
    outcome = Outcome(StageStatus.SUCCESS, preferred_label="fix")
    assert pick([("ship", {"label": "[A] Approve"}), ("fixes", {"label": "[F] Fix"})], outcome) == "fixes"


def test_suggested_next_ids_used_when_no_label_matches() -> None:
    outcome = Outcome(StageStatus.SUCCESS, preferred_label="nothing", suggested_next_ids=["z", "y"])
    assert pick([("x", {"weight": 5}), ("y", {}), ("z", {})], outcome) == "z"


def test_weight_breaks_ties_for_unconditional_edges() -> None:
    assert pick([("a", {"weight": 1}), ("b", {"weight": 3}), ("c", {"weight": 2})]) == "b"


def test_lexical_tiebreak_is_the_final_fallback() -> None:
    assert pick([("zeta", {}), ("alpha", {}), ("mid", {})]) == "alpha"


def test_context_conditions_are_evaluated_against_the_run_context() -> None:
    ctx = Context({"tests_passed": "true"})
    assert (
        pick(
            [("deploy", {"condition": "outcome=success && context.tests_passed=true"}), ("wait", {})],
            context=ctx,
        )
        == "deploy"
    )


def test_no_edges_selects_nothing() -> None:
    graph = graph_from("n", [])
    assert select_edge(graph.nodes["n"], Outcome(StageStatus.SUCCESS), Context(), graph) is None


def test_label_normalization_and_accelerator_keys() -> None:
    assert normalize_label("  [Y] Yes, Deploy ") == "yes, deploy"
    assert normalize_label("Y) Yes") == "yes"
    assert normalize_label("Y - Yes") == "yes"
    assert normalize_label("Yes - later") == "yes - later"
    assert [accelerator_key(x) for x in ("[K] Keep", "y) yes", "N - no", "Deploy")] == ["K", "Y", "N", "D"]
