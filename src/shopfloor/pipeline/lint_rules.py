"""The built-in lint rules of attractor-spec 7.2, plus `attribute_type`.

Each rule is a `LintRule`: a name and `apply(graph) -> list[Diagnostic]`.
Custom rules implement the same Protocol and are passed to `validate` (7.4).

Two choices the spec leaves open, made for the user reading the output:
- `reachability`: a node with no edges at all is an orphan, reported as a
  WARNING (it can never run, so it cannot hurt); a node that has edges but
  cannot be reached from the start is an ERROR (a broken flow).
- `attribute_type` (ERROR) reports values of Appendix A's typed attributes
  that do not fit their type, e.g. `max_retries="abc"` or `timeout="soon"`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from shopfloor.pipeline.attributes import Scope, example, type_problem
from shopfloor.pipeline.conditions import condition_error
from shopfloor.pipeline.diagnostics import Diagnostic, Severity
from shopfloor.pipeline.graph import SHAPE_TO_TYPE, Edge, Graph, Node, SourceLoc
from shopfloor.pipeline.stylesheet import StylesheetSyntaxError, parse_stylesheet

#: Handler types every shopfloor engine knows (attractor-spec 2.8); plugins add more.
BUILT_IN_HANDLER_TYPES: frozenset[str] = frozenset(SHAPE_TO_TYPE.values())

FIDELITY_MODES: tuple[str, ...] = ("full", "truncate", "compact", "summary:low", "summary:medium",
                                   "summary:high")

ERROR, WARNING = Severity.ERROR, Severity.WARNING


@runtime_checkable
class LintRule(Protocol):
    """attractor-spec 7.4."""

    name: str

    def apply(self, graph: Graph) -> list[Diagnostic]: ...


@dataclass(frozen=True)
class FunctionRule:
    """A LintRule made from a plain function."""

    name: str
    check: Callable[[Graph], Iterable[Diagnostic]]

    def apply(self, graph: Graph) -> list[Diagnostic]:
        return list(self.check(graph))


def _at_node(rule: str, severity: Severity, node: Node, message: str, fix: str = "",
             attr: str | None = None) -> Diagnostic:
    loc = node.attr_locs.get(attr) if attr else None
    return Diagnostic(rule, severity, message, node_id=node.id, fix=fix, loc=loc or node.loc)


def _at_edge(rule: str, severity: Severity, edge: Edge, message: str, fix: str = "",
             attr: str | None = None) -> Diagnostic:
    loc = edge.attr_locs.get(attr) if attr else None
    return Diagnostic(rule, severity, message, edge=(edge.source, edge.target), fix=fix, loc=loc or edge.loc)


def _at_graph(rule: str, severity: Severity, graph: Graph, message: str, fix: str = "",
              attr: str | None = None) -> Diagnostic:
    loc = graph.attr_locs.get(attr) if attr else None
    return Diagnostic(rule, severity, message, fix=fix, loc=loc or SourceLoc(graph.filename, 1, 1))


def _exactly_one(graph: Graph, rule: str, nodes: list[Node], what: str, fix: str) -> Iterable[Diagnostic]:
    if not nodes:
        yield _at_graph(rule, ERROR, graph, f"the pipeline has no {what} node", fix)
    for extra in nodes[1:]:
        yield _at_node(rule, ERROR, extra,
                       f"more than one {what} node: {', '.join(n.id for n in nodes)}",
                       f"keep exactly one {what} node")


def start_node(graph: Graph) -> Iterable[Diagnostic]:
    yield from _exactly_one(graph, "start_node", graph.start_nodes(), "start",
                            "add one entry node: start [shape=Mdiamond]")


def terminal_node(graph: Graph) -> Iterable[Diagnostic]:
    yield from _exactly_one(graph, "terminal_node", graph.exit_nodes(), "exit",
                            "add one exit node: exit [shape=Msquare]")


def reachability(graph: Graph) -> Iterable[Diagnostic]:
    starts = graph.start_nodes()
    if len(starts) != 1:
        return  # start_node already reports it; reachability has no root to walk from
    successors: dict[str, list[str]] = {}
    connected: set[str] = set()  # nodes with at least one edge, in or out
    for edge in graph.edges:  # one pass, so large pipelines lint in linear time
        successors.setdefault(edge.source, []).append(edge.target)
        connected.update((edge.source, edge.target))
    seen = {starts[0].id}
    queue = deque(seen)
    while queue:
        for target in successors.get(queue.popleft(), ()):
            if target in graph.nodes and target not in seen:
                seen.add(target)
                queue.append(target)
    for node in graph.nodes.values():
        if node.id in seen:
            continue
        if node.id not in connected:
            yield _at_node("reachability", WARNING, node,
                           f"orphan node {node.id!r} has no edges and never runs",
                           f"connect it (e.g. {starts[0].id} -> {node.id}) or delete it")
        else:
            yield _at_node("reachability", ERROR, node,
                           f"node {node.id!r} cannot be reached from the start node",
                           f"add an edge into {node.id} from a node reachable from {starts[0].id}")


def edge_target_exists(graph: Graph) -> Iterable[Diagnostic]:
    for edge in graph.edges:
        for end, node_id in (("source", edge.source), ("target", edge.target)):
            if node_id not in graph.nodes:
                yield _at_edge("edge_target_exists", ERROR, edge,
                               f"edge {end} {node_id!r} is not a declared node",
                               f"declare it ({node_id} [label=\"...\"]) or fix the spelling")


def start_no_incoming(graph: Graph) -> Iterable[Diagnostic]:
    for start in graph.start_nodes():
        for edge in graph.incoming(start.id):
            yield _at_edge("start_no_incoming", ERROR, edge, f"edge into the start node {start.id!r}",
                           "route back to a later node instead of the start")


def exit_no_outgoing(graph: Graph) -> Iterable[Diagnostic]:
    for exit_node in graph.exit_nodes():
        for edge in graph.outgoing(exit_node.id):
            yield _at_edge("exit_no_outgoing", ERROR, edge, f"edge out of the exit node {exit_node.id!r}",
                           "the exit node ends the run; remove the edge")


#: Node attributes that hold a condition expression (attractor-spec 4.11).
NODE_CONDITION_ATTRS: tuple[str, ...] = ("manager.stop_condition",)


def condition_syntax(graph: Graph) -> Iterable[Diagnostic]:
    for edge in graph.edges:
        error = condition_error(edge.condition) if edge.condition else None
        if error is not None:
            yield _at_edge("condition_syntax", ERROR, edge, error.what, error.fix or "", attr="condition")
    for node in graph.nodes.values():
        for key in NODE_CONDITION_ATTRS:
            expr = node.get(key)
            error = condition_error(str(expr)) if expr else None
            if error is not None:
                yield _at_node("condition_syntax", ERROR, node, f"{key}: {error.what}", error.fix or "",
                               attr=key)


def stylesheet_syntax(graph: Graph) -> Iterable[Diagnostic]:
    text = graph.get("model_stylesheet")
    if not isinstance(text, str) or not text.strip():
        return
    try:
        parse_stylesheet(text)
    except StylesheetSyntaxError as exc:
        yield _at_graph("stylesheet_syntax", ERROR, graph, exc.what, exc.fix or "", attr="model_stylesheet")


def type_known(known: frozenset[str]) -> Callable[[Graph], Iterable[Diagnostic]]:
    def check(graph: Graph) -> Iterable[Diagnostic]:
        for node in graph.nodes.values():
            if node.type and node.type not in known:
                yield _at_node("type_known", WARNING, node, f"unknown handler type {node.type!r}",
                               f"use one of: {', '.join(sorted(known))}, or register a handler for it",
                               attr="type")
    return check


def fidelity_valid(graph: Graph) -> Iterable[Diagnostic]:
    fix = f"use one of: {', '.join(FIDELITY_MODES)}"
    mode = graph.get("default_fidelity")
    if mode and mode not in FIDELITY_MODES:
        yield _at_graph("fidelity_valid", WARNING, graph, f"unknown default_fidelity {mode!r}", fix,
                        attr="default_fidelity")
    for node in graph.nodes.values():
        mode = node.get("fidelity")
        if mode and mode not in FIDELITY_MODES:
            yield _at_node("fidelity_valid", WARNING, node, f"unknown fidelity {mode!r}", fix,
                           attr="fidelity")
    for edge in graph.edges:
        mode = edge.get("fidelity")
        if mode and mode not in FIDELITY_MODES:
            yield _at_edge("fidelity_valid", WARNING, edge, f"unknown fidelity {mode!r}", fix,
                           attr="fidelity")


def retry_target_exists(graph: Graph) -> Iterable[Diagnostic]:
    keys = ("retry_target", "fallback_retry_target")
    for key in keys:
        target = graph.get(key)
        if target and target not in graph.nodes:
            yield _at_graph("retry_target_exists", WARNING, graph, f"graph {key} {target!r} is not a node",
                            "name an existing node", attr=key)
    for node in graph.nodes.values():
        for key in keys:
            target = node.get(key)
            if target and target not in graph.nodes:
                yield _at_node("retry_target_exists", WARNING, node, f"{key} {target!r} is not a node",
                               "name an existing node", attr=key)


def goal_gate_has_retry(graph: Graph) -> Iterable[Diagnostic]:
    graph_target = graph.get("retry_target") or graph.get("fallback_retry_target")
    for node in graph.nodes.values():
        own_target = node.get("retry_target") or node.get("fallback_retry_target")
        if node.goal_gate and not (own_target or graph_target):
            yield _at_node("goal_gate_has_retry", WARNING, node,
                           f"goal gate {node.id!r} has no retry_target: if it fails the run just fails",
                           f'add retry_target="<node to retry from>" to {node.id}', attr="goal_gate")


def prompt_on_llm_nodes(graph: Graph) -> Iterable[Diagnostic]:
    for node in graph.nodes.values():
        if node.handler_type == "codergen" and not node.prompt:
            fallback = f"its label {node.label!r}" if node.get("label") else "its id"
            yield _at_node("prompt_on_llm_nodes", WARNING, node,
                           f"codergen node {node.id!r} has no prompt; {fallback} is sent instead",
                           f'add prompt="..." to {node.id}')


def attribute_type(graph: Graph) -> Iterable[Diagnostic]:
    def check(scope: Scope, attrs: dict[str, object]) -> Iterable[tuple[str, str, str]]:
        for key, value in attrs.items():
            problem = type_problem(scope, key, value)
            if problem:
                yield key, problem, f"write {key}={example(scope, key)}"

    for key, problem, fix in check("graph", graph.attrs):
        yield _at_graph("attribute_type", ERROR, graph, problem, fix, attr=key)
    for node in graph.nodes.values():
        for key, problem, fix in check("node", node.attrs):
            yield _at_node("attribute_type", ERROR, node, f"node {node.id}: {problem}", fix, attr=key)
    for edge in graph.edges:
        for key, problem, fix in check("edge", edge.attrs):
            yield _at_edge("attribute_type", ERROR, edge, f"edge {edge.key}: {problem}", fix, attr=key)


def built_in_rules(handler_types: Iterable[str] = ()) -> list[LintRule]:
    """The rules of 7.2 in spec order; `handler_types` adds plugin types to `type_known`."""
    known = BUILT_IN_HANDLER_TYPES | frozenset(handler_types)
    checks: list[tuple[str, Callable[[Graph], Iterable[Diagnostic]]]] = [
        ("start_node", start_node), ("terminal_node", terminal_node), ("reachability", reachability),
        ("edge_target_exists", edge_target_exists), ("start_no_incoming", start_no_incoming),
        ("exit_no_outgoing", exit_no_outgoing), ("condition_syntax", condition_syntax),
        ("stylesheet_syntax", stylesheet_syntax), ("attribute_type", attribute_type),
        ("type_known", type_known(known)), ("fidelity_valid", fidelity_valid),
        ("retry_target_exists", retry_target_exists), ("goal_gate_has_retry", goal_gate_has_retry),
        ("prompt_on_llm_nodes", prompt_on_llm_nodes),
    ]
    return [FunctionRule(name, check) for name, check in checks]
