"""Graph → DOT text, such that `parse_dot(to_dot(g)) == g`.

The output is flat (subgraphs were already flattened by the parser; their
derived classes live on in each node's `class`), every attribute is written
explicitly on its node or edge, and values keep their types: strings quoted,
numbers, booleans and durations bare.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from shopfloor.pipeline.graph import Duration, Graph

_ID_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")


def quote(text: str) -> str:
    """A DOT string literal whose parse is exactly `text`."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'


def _float(value: float) -> str:
    # The DOT subset has no exponent syntax: write the shortest repr positionally.
    text = format(Decimal(repr(value)), "f")
    return text if "." in text else text + ".0"


def format_value(value: Any) -> str:
    if isinstance(value, Duration):
        return value.text
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float(value)
    return quote(str(value))


def _attrs(attrs: dict[str, Any]) -> str:
    for key in attrs:
        if not _KEY_RE.fullmatch(key):
            raise ValueError(f"attribute name {key!r} cannot be written as DOT")
    return ", ".join(f"{key}={format_value(value)}" for key, value in attrs.items())


def _id(node_id: str) -> str:
    if not _ID_RE.fullmatch(node_id):
        raise ValueError(f"node id {node_id!r} cannot be written as DOT")
    return node_id


def to_dot(graph: Graph) -> str:
    name = f" {_id(graph.name)}" if graph.name else ""
    lines = [f"digraph{name} {{"]
    if graph.attrs:
        lines.append(f"    graph [{_attrs(graph.attrs)}]")
    for node in graph.nodes.values():
        lines.append(f"    {_id(node.id)} [{_attrs(node.attrs)}]" if node.attrs else f"    {_id(node.id)}")
    for edge in graph.edges:
        block = f" [{_attrs(edge.attrs)}]" if edge.attrs else ""
        lines.append(f"    {_id(edge.source)} -> {_id(edge.target)}{block}")
    lines.append("}")
    return "\n".join(lines) + "\n"
