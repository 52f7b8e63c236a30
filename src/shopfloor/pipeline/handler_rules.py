"""Lint rules for the attributes the built-in handlers read (attractor-spec 7.4 custom rules).

The front end checks the spec's typed attributes; these rules check the
handler-specific ones (`join_policy`, `retry_policy`, `manager.*`, `human.*`,
`sim.*`, …) so a typo is reported before the run starts, with its file:line:col,
instead of failing the node halfway through a run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from shopfloor.pipeline.diagnostics import Diagnostic, Severity
from shopfloor.pipeline.graph import Graph, Node
from shopfloor.pipeline.handlers.parallel import ERROR_POLICIES, JOIN_POLICIES, find_join_node
from shopfloor.pipeline.lint_rules import FunctionRule, LintRule
from shopfloor.pipeline.node_attrs import as_seconds
from shopfloor.pipeline.outcome import StageStatus
from shopfloor.pipeline.retry import PRESETS

_STATUSES = tuple(s.value for s in StageStatus)
_DURATION_ATTRS = ("human.timeout", "manager.poll_interval", "manager.steer_cooldown", "sim.delay",
                   "retry.initial_delay", "retry.max_delay")
_POSITIVE_INT_ATTRS = ("max_parallel", "manager.max_cycles")


def _problem(rule: str, node: Node, attr: str, message: str, fix: str,
             severity: Severity = Severity.ERROR) -> Diagnostic:
    loc = node.attr_locs.get(attr) or node.loc
    return Diagnostic(rule, severity, message, node_id=node.id, fix=fix, loc=loc)


def _choice(node: Node, attr: str, allowed: Iterable[str], rule: str) -> Iterable[Diagnostic]:
    value = node.get(attr)
    allowed = tuple(allowed)
    if value is not None and str(value) not in allowed:
        yield _problem(rule, node, attr, f"{attr} {value!r} is not one of {', '.join(allowed)}",
                       f"set {attr} to one of {', '.join(allowed)}")


def policies(graph: Graph) -> Iterable[Diagnostic]:
    for node in graph.nodes.values():
        yield from _choice(node, "join_policy", JOIN_POLICIES, "handler_policy")
        yield from _choice(node, "error_policy", ERROR_POLICIES, "handler_policy")
        yield from _choice(node, "retry_policy", PRESETS, "handler_policy")


def numbers(graph: Graph) -> Iterable[Diagnostic]:
    for node in graph.nodes.values():
        for attr in _DURATION_ATTRS:
            value = node.get(attr)
            if value is not None and as_seconds(value) is None:
                yield _problem("handler_attribute", node, attr, f"{attr} must be a duration, got {value!r}",
                               f'write it like {attr}="30s" (units: ms, s, m, h, d)')
        for attr in _POSITIVE_INT_ATTRS:
            value = node.get(attr)
            if value is not None and (isinstance(value, bool) or not str(value).strip().isdigit()
                                      or int(str(value)) < 1):
                yield _problem("handler_attribute", node, attr,
                               f"{attr} must be a whole number >= 1, got {value!r}",
                               f"write it like {attr}=4")


def simulation(graph: Graph) -> Iterable[Diagnostic]:
    for node in graph.nodes.values():
        single = node.get("sim.outcome")
        scripted = [("sim.outcome", str(single))] if single is not None else []
        scripted += [("sim.outcomes", part.strip())
                     for part in str(node.get("sim.outcomes") or "").split(",") if part.strip()]
        for attr, value in scripted:
            if value.lower() not in _STATUSES:
                yield _problem("simulate_script", node, attr, f"{attr}: {value!r} is not an outcome",
                               f"use {', '.join(_STATUSES)}")
        for pair in str(node.get("sim.set") or "").split(","):
            if pair.strip() and "=" not in pair:
                yield _problem("simulate_script", node, "sim.set",
                               f"sim.set entry {pair.strip()!r} has no '='",
                               'write sim.set="key=value,other=value"')


def wiring(graph: Graph) -> Iterable[Diagnostic]:
    for node in graph.nodes.values():
        kind = node.handler_type
        if kind == "tool" and not node.str_attr("tool_command"):
            yield _problem("tool_command", node, "tool_command", "tool node has no tool_command",
                           'add tool_command="…" (it runs with /bin/sh -c)')
        branches = graph.outgoing(node.id)
        if kind == "parallel" and branches and not find_join_node(graph, branches):
            yield _problem("parallel_join", node, "shape", "the branches of this parallel node never meet",
                           "lead every branch to one fan-in node (shape=tripleoctagon)")
        autostart = str(node.get("stack.child_autostart", "true")).lower() != "false"
        has_child = node.get("stack.child_dotfile") or graph.get("stack.child_dotfile")
        if kind == "stack.manager_loop" and autostart and not has_child:
            yield _problem("manager_child", node, "type", "manager node has no child pipeline",
                           'set stack.child_dotfile="child.dot" on the graph or the node')


RULES: dict[str, Callable[[Graph], Iterable[Diagnostic]]] = {
    "handler_policy": policies, "handler_attribute": numbers, "simulate_script": simulation,
    "handler_wiring": wiring,
}


def handler_rules() -> list[LintRule]:
    return [FunctionRule(name, check) for name, check in RULES.items()]
