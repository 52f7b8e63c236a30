"""What govern adds to every run, through the composition root's per-run plugin call.

govern registers no handler types. It uses `register_handlers(registry, scope)`
— called once per run, in the run's own process, before the first node — to
start the run's `StopWatcher`, so `shopfloor stop RUN_ID` (and POST /stop)
reaches the run whether a CLI process or the HTTP server hosts it. The watcher
is closed with the run's resources.
"""

from __future__ import annotations

from shopfloor.govern.stop import StopWatcher
from shopfloor.pipeline.handler import HandlerRegistry
from shopfloor.pipeline.scope import RunScope


def register_handlers(registry: HandlerRegistry, scope: RunScope) -> None:
    watcher = StopWatcher(scope.run_id, scope.stop_requested)
    scope.resources.callback(watcher.close)
