"""Composition root: wires every layer's handlers and codergen backends into the engine.

The pipeline knows only the Handler and CodergenBackend protocols; this module
is the one place that knows which layers provide which `type`s. Each module in
HANDLER_PLUGINS exposes `register_handlers(registry: HandlerRegistry, scope: RunScope)`.
Each entry of BACKENDS names a factory `module:callable` taking (scope, options: dict)
and returning a CodergenBackend.
"""

from __future__ import annotations

HANDLER_PLUGINS: list[str] = [
]

BACKENDS: dict[str, str] = {
}
