"""The parsed pipeline: a Graph of Nodes and Edges with typed attribute access.

Attributes are kept as parsed values (str, int, float, bool, or a Duration in
seconds) in plain dicts, so serializing back to DOT or JSON loses nothing. The
properties below give the spec's defaults (attractor-spec 2.5-2.7).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: attractor-spec 2.8: shape → handler type.
SHAPE_TO_TYPE: dict[str, str] = {
    "Mdiamond": "start",
    "Msquare": "exit",
    "box": "codergen",
    "hexagon": "wait.human",
    "diamond": "conditional",
    "component": "parallel",
    "tripleoctagon": "parallel.fan_in",
    "parallelogram": "tool",
    "house": "stack.manager_loop",
}


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def _as_int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


@dataclass
class Node:
    id: str
    attrs: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        return self.attrs.get(key, default)

    def str_attr(self, key: str, default: str = "") -> str:
        value = self.attrs.get(key)
        return default if value is None else str(value)

    @property
    def label(self) -> str:
        return self.str_attr("label") or self.id

    @property
    def shape(self) -> str:
        return self.str_attr("shape", "box")

    @property
    def type(self) -> str:
        return self.str_attr("type")

    @property
    def handler_type(self) -> str:
        """Explicit type, else the shape mapping (the registry falls back to codergen)."""
        return self.type or SHAPE_TO_TYPE.get(self.shape, "codergen")

    @property
    def prompt(self) -> str:
        return self.str_attr("prompt")

    @property
    def goal_gate(self) -> bool:
        return _as_bool(self.attrs.get("goal_gate", False))

    @property
    def classes(self) -> list[str]:
        return [c.strip() for c in self.str_attr("class").split(",") if c.strip()]


@dataclass
class Edge:
    source: str
    target: str
    attrs: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        return self.attrs.get(key, default)

    @property
    def label(self) -> str:
        return str(self.attrs.get("label", "") or "")

    @property
    def condition(self) -> str:
        return str(self.attrs.get("condition", "") or "")

    @property
    def weight(self) -> int:
        return _as_int(self.attrs.get("weight", 0), 0)

    @property
    def key(self) -> str:
        return f"{self.source}->{self.target}"


@dataclass
class Graph:
    name: str
    attrs: dict[str, Any] = field(default_factory=dict)
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)

    def get(self, key: str, default: Any = None) -> Any:
        return self.attrs.get(key, default)

    @property
    def goal(self) -> str:
        return str(self.attrs.get("goal", "") or "")

    def outgoing(self, node_id: str) -> list[Edge]:
        return [e for e in self.edges if e.source == node_id]

    def incoming(self, node_id: str) -> list[Edge]:
        return [e for e in self.edges if e.target == node_id]
