"""Starting and resuming runs: run directory, manifest, event log, scope and engine wired together.

`start_run` / `resume_run` take a registry factory, so the composition root
decides which handlers and backend a run gets. `run_pipeline` is the
one-call Python API with the built-in handlers (attractor-spec 11.13).
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from shopfloor.config import ProjectFile
from shopfloor.errors import UserError
from shopfloor.pipeline.checkpoint import Checkpoint
from shopfloor.pipeline.engine import PipelineEngine, RunResult
from shopfloor.pipeline.events import EventBus, Observer
from shopfloor.pipeline.graph import Graph
from shopfloor.pipeline.handler import CodergenBackend, Handler, HandlerRegistry
from shopfloor.pipeline.handlers import register_core_handlers
from shopfloor.pipeline.interviewer import AutoApproveInterviewer, Interviewer
from shopfloor.pipeline.run_dir import Manifest, RunDir
from shopfloor.pipeline.scope import RunScope

#: Parent directory of run directories when no logs root is given.
DEFAULT_RUNS_DIR = "runs"

RegistryFactory = Callable[[RunScope, EventBus], HandlerRegistry]


def new_run_id(graph_name: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", graph_name).strip("-").lower() or "run"
    return f"{slug}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"


def _open(logs_root: Path, run_id: str, interviewer: Interviewer, config: ProjectFile | None,
          observers: Iterable[Observer], stop_event: threading.Event | None) -> tuple[EventBus, RunScope]:
    events = EventBus(RunDir(logs_root).events_path, list(observers))
    scope = RunScope(run_id=run_id, logs_root=logs_root, config=config or ProjectFile(None, {}),
                     interviewer=interviewer, emit=events.emit_raw,
                     stop_requested=stop_event or threading.Event())
    return events, scope


def _drive(engine: PipelineEngine, scope: RunScope, events: EventBus,
           action: Callable[[PipelineEngine], RunResult]) -> RunResult:
    try:
        return action(engine)
    finally:
        scope.resources.close()
        events.close()


def start_run(graph: Graph, *, logs_root: Path, registry_factory: RegistryFactory, interviewer: Interviewer,
              manifest: Manifest | None = None, dot_source: str | None = None,
              initial_context: dict[str, Any] | None = None, config: ProjectFile | None = None,
              observers: Iterable[Observer] = (), stop_event: threading.Event | None = None) -> RunResult:
    """Create the run directory (manifest, copy of the DOT source) and execute the pipeline."""
    logs_root = Path(logs_root)
    if Checkpoint.exists(logs_root):
        raise UserError("logs root already holds a run", where=str(logs_root),
                        fix=f"continue it with `shopfloor resume --logs-root {logs_root}` "
                            "or pick another directory")
    manifest = manifest or Manifest(new_run_id(graph.name), graph.name, graph.goal, time.time())
    manifest.initial_context = dict(initial_context or manifest.initial_context)
    RunDir(logs_root).create(manifest, dot_source)
    events, scope = _open(logs_root, manifest.run_id, interviewer, config, observers, stop_event)
    engine = PipelineEngine(graph, registry_factory(scope, events), scope, events, manifest=manifest)
    return _drive(engine, scope, events, lambda e: e.run(manifest.initial_context))


def resume_run(graph: Graph, *, logs_root: Path, registry_factory: RegistryFactory, interviewer: Interviewer,
               config: ProjectFile | None = None, observers: Iterable[Observer] = (),
               stop_event: threading.Event | None = None) -> RunResult:
    """Continue an interrupted run from its checkpoint."""
    run_dir = RunDir(logs_root)
    manifest = run_dir.read_manifest()
    if manifest is None:
        raise UserError("not a run directory (no manifest.json)", where=str(logs_root),
                        fix="pass the --logs-root of a run started with `shopfloor run`")
    events, scope = _open(Path(logs_root), manifest.run_id, interviewer, config, observers, stop_event)
    engine = PipelineEngine(graph, registry_factory(scope, events), scope, events, manifest=manifest)
    if not Checkpoint.exists(logs_root):  # killed before the first checkpoint: nothing ran yet
        return _drive(engine, scope, events, lambda e: e.run(manifest.initial_context))
    return _drive(engine, scope, events, lambda e: e.resume())


def core_registry_factory(backend: CodergenBackend | None,
                          handlers: dict[str, Handler] | None = None) -> RegistryFactory:
    """The built-in handlers with `backend` for codergen, plus custom handlers by type."""

    def build(scope: RunScope, events: EventBus) -> HandlerRegistry:
        registry = register_core_handlers(HandlerRegistry(), scope, events, backend)
        for type_string, handler in (handlers or {}).items():
            registry.register(type_string, handler)
        return registry

    return build


def run_pipeline(graph: Graph, *, logs_root: Path | str | None = None, backend: CodergenBackend | None = None,
                 interviewer: Interviewer | None = None, context: dict[str, Any] | None = None,
                 handlers: dict[str, Handler] | None = None, observers: Iterable[Observer] = (),
                 stop_event: threading.Event | None = None) -> RunResult:
    """Run `graph` to completion with the built-in handlers.

    `backend=None` is the spec's simulation mode; the default interviewer
    auto-approves human gates (pass another for real interaction).
    """
    manifest = Manifest(new_run_id(graph.name), graph.name, graph.goal, time.time(),
                        backend="none" if backend is None else type(backend).__name__,
                        interviewer="auto-approve" if interviewer is None else type(interviewer).__name__)
    root = Path(logs_root) if logs_root is not None else Path(DEFAULT_RUNS_DIR) / manifest.run_id
    return start_run(graph, logs_root=root, registry_factory=core_registry_factory(backend, handlers),
                     interviewer=interviewer or AutoApproveInterviewer(), manifest=manifest,
                     initial_context=context, observers=observers, stop_event=stop_event)
