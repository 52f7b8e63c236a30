"""Composition root: wires every layer's handlers and codergen backends into the engine.

The pipeline knows only the Handler and CodergenBackend protocols; this module
is the one place that knows which layers provide which `type`s. Each module in
HANDLER_PLUGINS exposes `register_handlers(registry: HandlerRegistry, scope: RunScope)`.
Each entry of BACKENDS names a factory `module:callable` taking (scope, options: dict)
and returning a CodergenBackend.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from shopfloor.errors import UserError
from shopfloor.pipeline.events import EventBus
from shopfloor.pipeline.handler import CodergenBackend, HandlerRegistry
from shopfloor.pipeline.handlers import register_core_handlers
from shopfloor.pipeline.scope import RunScope

HANDLER_PLUGINS: list[str] = [
    "shopfloor.workers.workspace",  # shopfloor.workspace
    "shopfloor.workers.visible_tests",  # shopfloor.tests
    "shopfloor.release.handlers",  # shopfloor.gate, shopfloor.deploy
    "shopfloor.twins.handler",  # shopfloor.twins
    "shopfloor.govern.run_hooks",  # no types: makes each run reachable by `shopfloor stop`
    "shopfloor.workers.sandboxed_tool",  # tool (replaces the host one: commands run in the sandbox)
]

BACKENDS: dict[str, str] = {
    "simulate": "shopfloor.workers.simulate:create_backend",
    "repair": "shopfloor.workers.repair.backend:create_backend",
    "auto": "shopfloor.workers.auto:create_backend",
    "agent": "shopfloor.workers.agent:create_backend",
    "cli": "shopfloor.workers.cli:create_backend",
}

DEFAULT_BACKEND = "simulate"


def _load(target: str) -> Any:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def create_backend(name: str, scope: RunScope, options: dict[str, Any] | None = None) -> CodergenBackend:
    """The codergen backend registered as `name` in BACKENDS."""
    if name not in BACKENDS:
        raise UserError(f"unknown backend {name!r}", where="--backend",
                        fix=f"use one of {', '.join(sorted(BACKENDS))}")
    backend: CodergenBackend = _load(BACKENDS[name])(scope, dict(options or {}))
    return backend


def build_registry(scope: RunScope, events: EventBus, backend: CodergenBackend | None) -> HandlerRegistry:
    """The run's handlers: the built-in types, then every HANDLER_PLUGINS module's (later ones win)."""
    registry = register_core_handlers(HandlerRegistry(), scope, events, backend)
    for module in HANDLER_PLUGINS:
        importlib.import_module(module).register_handlers(registry, scope)
    return registry


def registry_factory(backend_name: str, options: dict[str, Any] | None = None,
                     ) -> Callable[[RunScope, EventBus], HandlerRegistry]:
    """What `pipeline.runner.start_run` needs: a per-run registry with the named backend."""
    if backend_name not in BACKENDS:  # fail before a run directory is created
        raise UserError(f"unknown backend {backend_name!r}", where="--backend",
                        fix=f"use one of {', '.join(sorted(BACKENDS))}")

    def build(scope: RunScope, events: EventBus) -> HandlerRegistry:
        return build_registry(scope, events, create_backend(backend_name, scope, options))

    return build
