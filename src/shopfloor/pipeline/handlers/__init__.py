"""The built-in node handlers (attractor-spec 4.3-4.11) and their registration.

`register_core_handlers` fills a HandlerRegistry for one run; the composition
root (`shopfloor.assembly`) then adds the handlers other layers contribute.
"""

from __future__ import annotations

from pathlib import Path

from shopfloor.pipeline.events import EventBus
from shopfloor.pipeline.graph import Graph
from shopfloor.pipeline.handler import CodergenBackend, HandlerRegistry
from shopfloor.pipeline.handlers.codergen import CodergenHandler
from shopfloor.pipeline.handlers.fan_in import FanInHandler
from shopfloor.pipeline.handlers.manager_loop import GraphLoader, ManagerLoopHandler
from shopfloor.pipeline.handlers.noop import ConditionalHandler, ExitHandler, StartHandler
from shopfloor.pipeline.handlers.parallel import ParallelHandler
from shopfloor.pipeline.handlers.tool import ToolHandler
from shopfloor.pipeline.handlers.wait_human import WaitForHumanHandler
from shopfloor.pipeline.scope import RunScope


def load_pipeline_file(path: Path) -> Graph:
    """Parse, transform and validate a DOT file (the front half of the pipeline layer)."""
    from shopfloor.pipeline.prepare import prepare_pipeline

    return prepare_pipeline(path)


def register_core_handlers(registry: HandlerRegistry, scope: RunScope, events: EventBus,
                           backend: CodergenBackend | None, *,
                           load_graph: GraphLoader = load_pipeline_file) -> HandlerRegistry:
    """Register every built-in type; codergen is also the default for unknown shapes (spec 4.2)."""
    codergen = CodergenHandler(backend)
    stop = scope.stop_requested
    registry.default_handler = codergen
    registry.register("start", StartHandler())
    registry.register("exit", ExitHandler())
    registry.register("codergen", codergen)
    registry.register("wait.human", WaitForHumanHandler(scope.interviewer, events, stop))
    registry.register("conditional", ConditionalHandler())
    registry.register("parallel", ParallelHandler(registry, events, stop))
    registry.register("parallel.fan_in", FanInHandler(backend))
    registry.register("tool", ToolHandler(stop))
    registry.register("stack.manager_loop", ManagerLoopHandler(registry, scope, load_graph))
    return registry
