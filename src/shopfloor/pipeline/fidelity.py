"""Context fidelity (attractor-spec 5.4): how much of the run a node's LLM session starts with.

The engine resolves a mode and a thread key for every node and publishes them
in the context (`internal.fidelity`, `internal.thread_id`) for the codergen
backend. Under `full` the backend reuses the session of the same thread and no
preamble is built. Every other mode starts a fresh session; `preamble()` gives
the text that carries the run into it, within the mode's size budget.
"""

from __future__ import annotations

from typing import Any

from shopfloor.pipeline.graph import Edge, Graph, Node

FULL, TRUNCATE, COMPACT = "full", "truncate", "compact"
SUMMARY_LOW, SUMMARY_MEDIUM, SUMMARY_HIGH = "summary:low", "summary:medium", "summary:high"
MODES = (FULL, TRUNCATE, COMPACT, SUMMARY_LOW, SUMMARY_MEDIUM, SUMMARY_HIGH)
#: Runtime fallback when neither edge, node nor graph sets a mode.
DEFAULT_FIDELITY = COMPACT
#: Mode of the first node after a resume whose previous node ran under `full` (spec 5.3).
RESUME_DEGRADED_FIDELITY = SUMMARY_HIGH
#: Approximate preamble budgets in characters (~4 characters per token, spec 5.4 table).
PREAMBLE_CHAR_BUDGET: dict[str, int] = {
    TRUNCATE: 400, COMPACT: 4000, SUMMARY_LOW: 2400, SUMMARY_MEDIUM: 6000, SUMMARY_HIGH: 12000,
}
#: How many recent stages each summary level lists.
SUMMARY_STAGE_COUNT: dict[str, int] = {SUMMARY_LOW: 3, SUMMARY_MEDIUM: 10, SUMMARY_HIGH: 50, COMPACT: 50}

CONTEXT_FIDELITY_KEY = "internal.fidelity"
CONTEXT_THREAD_KEY = "internal.thread_id"
#: Keys under this prefix live for one node only; they are never checkpointed or reported.
TRANSIENT_PREFIX = "internal.transient."
#: The preamble of the node being run (empty under `full`), for the codergen handler.
PREAMBLE_KEY = TRANSIENT_PREFIX + "preamble"


def resolve_fidelity(edge: Edge | None, node: Node, graph: Graph) -> str:
    """Edge `fidelity`, then node `fidelity`, then graph `default_fidelity`, then compact.

    An unknown mode (the `fidelity_valid` lint rule warns about it) counts as unset.
    """
    candidates = (edge.get("fidelity") if edge is not None else None, node.get("fidelity"),
                  graph.get("default_fidelity"))
    for value in candidates:
        if value and str(value) in MODES:
            return str(value)
    return DEFAULT_FIDELITY


def resolve_thread(edge: Edge | None, node: Node, graph: Graph, previous_node: str) -> str:
    """Node thread_id, edge thread_id, graph default thread, subgraph class, else the previous node."""
    for value in (node.get("thread_id"), edge.get("thread_id") if edge else None, graph.get("thread_id")):
        if value:
            return str(value)
    if node.classes:
        return node.classes[0]
    return previous_node


def _line(key: str, value: Any) -> str:
    text = str(value).replace("\n", " ")
    return f"- {key}: {text[:200]}"


def preamble(mode: str, *, goal: str, run_id: str, completed: list[str], outcomes: dict[str, str],
             context: dict[str, Any]) -> str:
    """The text a fresh session starts with; empty for `full` (the session itself carries the history)."""
    if mode == FULL:
        return ""
    lines = [f"Goal: {goal}" if goal else "", f"Run: {run_id}"]
    if mode != TRUNCATE:
        recent = completed[-SUMMARY_STAGE_COUNT[mode]:]
        if recent:
            lines.append(f"Completed stages ({len(completed)} total, last {len(recent)}):")
            lines += [f"- {node_id}: {outcomes.get(node_id, '?')}" for node_id in recent]
        shown = {k: v for k, v in sorted(context.items())
                 if not k.startswith(("internal.", "graph.")) and k != "parallel.results"}
        if mode in (SUMMARY_LOW,):
            shown = {k: v for k, v in shown.items() if k in ("outcome", "last_stage")}
        if shown:
            lines.append("Context:")
            lines += [_line(k, v) for k, v in shown.items()]
    text = "\n".join(line for line in lines if line)
    return text[:PREAMBLE_CHAR_BUDGET[mode]]
