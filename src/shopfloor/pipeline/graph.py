"""The parsed pipeline: a Graph of Nodes and Edges with typed attribute access.

Attributes are kept as parsed values (str, int, float, bool, or a Duration in
seconds) in plain dicts, so serializing back to DOT or JSON loses nothing. The
properties below give the spec's defaults (attractor-spec 2.5-2.7).
"""

from __future__ import annotations

import re
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


_DURATION_RE = re.compile(r"([0-9]+)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


class Duration(float):
    """A time span in seconds that remembers how it was written (`900s`, `15m`, `250ms`).

    Being a float, `float(node.get("timeout"))` is the number of seconds; `str()`
    gives the DOT spelling back, so serializing a parsed graph loses nothing.
    """

    text: str

    def __new__(cls, text: str) -> Duration:
        match = _DURATION_RE.fullmatch(text.strip())
        if not match:
            raise ValueError(f"not a duration: {text!r} (expected a whole number and ms, s, m, h or d)")
        obj = super().__new__(cls, int(match.group(1)) * _UNIT_SECONDS[match.group(2)])
        obj.text = match.group(0)
        return obj

    def __getnewargs__(self) -> tuple[str]:  # type: ignore[override]  # copy/pickle rebuild from the text
        return (self.text,)

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"Duration({self.text!r})"

    @classmethod
    def parse(cls, text: str) -> Duration | None:
        try:
            return cls(text)
        except ValueError:
            return None


@dataclass(frozen=True)
class SourceLoc:
    """Where something was written: 1-based line and column in a file."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


def _json_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, Duration) else v for k, v in attrs.items()}


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
    #: where the node and each attribute value were written (parsed graphs only)
    loc: SourceLoc | None = field(default=None, compare=False, repr=False)
    attr_locs: dict[str, SourceLoc] = field(default_factory=dict, compare=False, repr=False)

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
    loc: SourceLoc | None = field(default=None, compare=False, repr=False)
    attr_locs: dict[str, SourceLoc] = field(default_factory=dict, compare=False, repr=False)

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
    attr_locs: dict[str, SourceLoc] = field(default_factory=dict, compare=False, repr=False)
    #: the file it was parsed from ("<string>" for source text)
    filename: str = field(default="<string>", compare=False, repr=False)

    def get(self, key: str, default: Any = None) -> Any:
        return self.attrs.get(key, default)

    @property
    def goal(self) -> str:
        return str(self.attrs.get("goal", "") or "")

    def outgoing(self, node_id: str) -> list[Edge]:
        return [e for e in self.edges if e.source == node_id]

    def incoming(self, node_id: str) -> list[Edge]:
        return [e for e in self.edges if e.target == node_id]

    def copy(self) -> Graph:
        """An independent copy: new dicts and lists throughout (attribute values are immutable)."""
        return Graph(self.name, dict(self.attrs),
                     {k: Node(n.id, dict(n.attrs), n.loc, dict(n.attr_locs)) for k, n in self.nodes.items()},
                     [Edge(e.source, e.target, dict(e.attrs), e.loc, dict(e.attr_locs)) for e in self.edges],
                     dict(self.attr_locs), self.filename)

    def to_dict(self) -> dict[str, Any]:
        """The JSON AST of `shopfloor parse`: durations as their DOT spelling, everything else as parsed."""
        return {
            "name": self.name,
            "attrs": _json_attrs(self.attrs),
            "nodes": [{"id": n.id, "attrs": _json_attrs(n.attrs)} for n in self.nodes.values()],
            "edges": [{"from": e.source, "to": e.target, "attrs": _json_attrs(e.attrs)} for e in self.edges],
        }

    def start_nodes(self) -> list[Node]:
        """attractor-spec 7.2: nodes of handler type `start`; failing any, nodes named start/Start."""
        return self._marked("start", ("start", "Start"))

    def exit_nodes(self) -> list[Node]:
        """attractor-spec 7.2: nodes of handler type `exit`; failing any, nodes named exit/end."""
        return self._marked("exit", ("exit", "end"))

    def _marked(self, handler_type: str, names: tuple[str, ...]) -> list[Node]:
        typed = [n for n in self.nodes.values() if n.handler_type == handler_type]
        return typed or [n for n in self.nodes.values() if n.id in names]
