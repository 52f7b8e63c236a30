"""The five-step edge selection of attractor-spec 3.3 and the failure routing of 3.7.

1. edges whose condition holds (best by weight, then target id);
2. the first unconditional edge whose normalized label equals the outcome's preferred_label;
3. the first unconditional edge to one of the outcome's suggested_next_ids;
4. the unconditional edge with the highest weight;
5. ties broken by the lexically first target id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shopfloor.pipeline.conditions import evaluate_condition
from shopfloor.pipeline.context import Context
from shopfloor.pipeline.graph import Edge, Graph, Node
from shopfloor.pipeline.outcome import Outcome, StageStatus

# "[Y] Yes", "Y) Yes", "Y - Yes": the accelerator prefixes of spec 3.3 / 4.6.
_ACCELERATOR_RE = re.compile(r"^\s*(?:\[(\w)\]\s*|(\w)\)\s*|(\w)\s+-\s+)")


def normalize_label(label: str) -> str:
    """Lowercase, trimmed, accelerator prefix removed."""
    return _ACCELERATOR_RE.sub("", label.strip(), count=1).strip().lower()


def accelerator_key(label: str) -> str:
    """The shortcut key of a label: `[K] x`, `K) x`, `K - x`, else its first character."""
    match = _ACCELERATOR_RE.match(label)
    if match:
        return next(g for g in match.groups() if g).upper()
    stripped = label.strip()
    return stripped[:1].upper()


def best_by_weight_then_lexical(edges: list[Edge]) -> Edge:
    return min(edges, key=lambda e: (-e.weight, e.target))


def select_edge(node: Node, outcome: Outcome, context: Context, graph: Graph) -> Edge | None:
    edges = graph.outgoing(node.id)
    if not edges:
        return None
    matched = [e for e in edges if e.condition and evaluate_condition(e.condition, outcome, context)]
    if matched:
        return best_by_weight_then_lexical(matched)
    unconditional = [e for e in edges if not e.condition]
    if outcome.preferred_label:
        wanted = normalize_label(outcome.preferred_label)
        for edge in unconditional:
            if normalize_label(edge.label) == wanted:
                return edge
    for suggested in outcome.suggested_next_ids:
        for edge in unconditional:
            if edge.target == suggested:
                return edge
    if unconditional:
        return best_by_weight_then_lexical(unconditional)
    return None


@dataclass(frozen=True)
class Route:
    """Where the run goes after a node: along an edge, or a jump to a retry target."""

    target: str
    edge: Edge | None = None

    @property
    def loop_restart(self) -> bool:
        return self.edge is not None and str(self.edge.get("loop_restart", "")).lower() == "true"


def _valid_target(graph: Graph, value: object) -> str:
    target = str(value or "")
    return target if target in graph.nodes else ""


def retry_target(node: Node, graph: Graph, *, include_graph: bool) -> str:
    """The node's retry_target, else its fallback; with `include_graph`, then the graph's (spec 3.4)."""
    sources: list[object] = [node.get("retry_target"), node.get("fallback_retry_target")]
    if include_graph:
        sources += [graph.get("retry_target"), graph.get("fallback_retry_target")]
    for value in sources:
        target = _valid_target(graph, value)
        if target:
            return target
    return ""


def route(node: Node, outcome: Outcome, context: Context, graph: Graph) -> Route | None:
    """The next step, with failure routing: a FAIL follows only a matching condition or a retry target."""
    if outcome.status == StageStatus.FAIL:
        matched = [e for e in graph.outgoing(node.id)
                   if e.condition and evaluate_condition(e.condition, outcome, context)]
        if matched:
            edge = best_by_weight_then_lexical(matched)
            return Route(edge.target, edge)
        target = retry_target(node, graph, include_graph=False)
        return Route(target) if target else None
    edge = select_edge(node, outcome, context, graph)
    return Route(edge.target, edge) if edge else None
