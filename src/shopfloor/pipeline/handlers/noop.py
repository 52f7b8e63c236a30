"""The handlers that do no work of their own (attractor-spec 4.3, 4.4, 4.7).

Start and exit mark the ends of the graph (the engine enforces goal gates at
the exit); a conditional node only gives the engine a place to route on its
outgoing edges' conditions.
"""

from __future__ import annotations

from pathlib import Path

from shopfloor.pipeline.context import Context
from shopfloor.pipeline.graph import Graph, Node
from shopfloor.pipeline.outcome import Outcome, StageStatus


class StartHandler:
    def execute(self, node: Node, context: Context, graph: Graph, logs_root: Path) -> Outcome:
        return Outcome(StageStatus.SUCCESS)


class ExitHandler:
    def execute(self, node: Node, context: Context, graph: Graph, logs_root: Path) -> Outcome:
        return Outcome(StageStatus.SUCCESS)


class ConditionalHandler:
    def execute(self, node: Node, context: Context, graph: Graph, logs_root: Path) -> Outcome:
        return Outcome(StageStatus.SUCCESS, notes=f"Conditional node evaluated: {node.id}")
