"""Composition root: wires every layer's handlers and codergen backends into the engine.

The pipeline knows only the Handler and CodergenBackend protocols; this module
is the one place that knows which layers provide which `type`s. Each module in
HANDLER_PLUGINS exposes `register_handlers(registry: HandlerRegistry, scope: RunScope)`
and may expose `lint_rules() -> list[LintRule]` for the attributes its handlers read.
Each entry of BACKENDS names a factory `module:callable` taking (scope, options: dict)
and returning a CodergenBackend.
"""

from __future__ import annotations

import importlib
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shopfloor.errors import UserError
from shopfloor.pipeline.events import EventBus
from shopfloor.pipeline.handler import CodergenBackend, HandlerRegistry
from shopfloor.pipeline.handlers import register_core_handlers
from shopfloor.pipeline.scope import RunScope

if TYPE_CHECKING:
    from shopfloor.pipeline.lint_rules import LintRule
    from shopfloor.pipeline.prepare import Preparer

HANDLER_PLUGINS: list[str] = [
    "shopfloor.workers.workspace",  # shopfloor.workspace
    "shopfloor.workers.visible_tests",  # shopfloor.tests
    "shopfloor.release.handlers",  # shopfloor.gate, shopfloor.deploy
    "shopfloor.twins.handler",  # shopfloor.twins
    "shopfloor.validate.handlers",  # shopfloor.scenarios, shopfloor.contracts
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


def require_backend(name: str) -> None:
    """Raise the one-line error for a backend name that is not in BACKENDS."""
    if name not in BACKENDS:
        raise UserError(f"unknown backend {name!r}", where="--backend",
                        fix=f"use one of {', '.join(sorted(BACKENDS))}")


def create_backend(name: str, scope: RunScope, options: dict[str, Any] | None = None) -> CodergenBackend:
    """The codergen backend registered as `name` in BACKENDS."""
    require_backend(name)
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
    require_backend(backend_name)  # fail before a run directory is created

    def build(scope: RunScope, events: EventBus) -> HandlerRegistry:
        return build_registry(scope, events, create_backend(backend_name, scope, options))

    return build


def registered_handler_types() -> list[str]:
    """Every handler type a run has: the built-ins and each HANDLER_PLUGINS module's."""
    from shopfloor.config import ProjectFile
    from shopfloor.pipeline.interviewer import AutoApproveInterviewer

    events = EventBus()
    with tempfile.TemporaryDirectory(prefix="shopfloor-handlers-") as tmp:
        scope = RunScope(run_id="validate", logs_root=Path(tmp), config=ProjectFile(None, {}),
                         interviewer=AutoApproveInterviewer(), emit=events.emit_raw)
        with scope.resources:
            return build_registry(scope, events, backend=None).types()


def handler_lint_rules() -> list[LintRule]:
    """The built-in handlers' attribute rules, then each HANDLER_PLUGINS module's `lint_rules()`."""
    from shopfloor.pipeline.handler_rules import handler_rules

    rules = handler_rules()
    for module in HANDLER_PLUGINS:
        plugin_rules = getattr(importlib.import_module(module), "lint_rules", None)
        if plugin_rules is not None:
            rules.extend(plugin_rules())
    return rules


def pipeline_preparer() -> Preparer:
    """parse → transform → validate with every registered handler type and attribute rule.

    `shopfloor run`, `shopfloor validate` and the server all prepare pipelines
    through this, so one pipeline gets the same diagnostics from each.
    """
    from shopfloor.pipeline.prepare import Preparer

    return Preparer(rules=handler_lint_rules(), handler_types=registered_handler_types())
