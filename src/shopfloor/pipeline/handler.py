"""The two extension points of the engine: node Handlers and the CodergenBackend.

Other layers (twins, validation, release, workers) plug in by implementing these
Protocols and registering by `type`; the pipeline never imports them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

from shopfloor.pipeline.context import Context
from shopfloor.pipeline.graph import Graph, Node
from shopfloor.pipeline.outcome import Outcome


@runtime_checkable
class Handler(Protocol):
    """attractor-spec 4.1: executes one node and returns its Outcome."""

    def execute(self, node: Node, context: Context, graph: Graph, logs_root: Path) -> Outcome: ...


@runtime_checkable
class CodergenBackend(Protocol):
    """attractor-spec 4.5: does the work of a codergen node; a str is the response text."""

    def run(self, node: Node, prompt: str, context: Context) -> str | Outcome: ...


class HandlerRegistry:
    """attractor-spec 4.2: explicit `type`, then shape, then the default (codergen)."""

    def __init__(self, default_handler: Handler | None = None) -> None:
        self._handlers: dict[str, Handler] = {}
        self.default_handler = default_handler

    def register(self, type_string: str, handler: Handler) -> None:
        self._handlers[type_string] = handler

    def types(self) -> list[str]:
        return sorted(self._handlers)

    def get(self, type_string: str) -> Handler | None:
        return self._handlers.get(type_string)

    def resolve(self, node: Node) -> Handler:
        if node.type and node.type in self._handlers:
            return self._handlers[node.type]
        by_shape = self._handlers.get(node.handler_type)
        if by_shape is not None:
            return by_shape
        if self.default_handler is None:
            raise LookupError(f"no handler for node {node.id!r} (type={node.type!r}, shape={node.shape!r})")
        return self.default_handler
