"""Pipeline runs started over HTTP: each on its own thread, with a web interviewer and an event feed.

A run started here is an ordinary run: its directory, checkpoint and
hash-chained events.jsonl are the ones `shopfloor run` writes, it is listed in
the run registry, and `shopfloor resume --logs-root DIR` can continue it after
the server is gone. Cancelling (or shutting the server down) requests a stop;
the engine checkpoints and the run ends as "stopped".
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from shopfloor.errors import UserError
from shopfloor.pipeline.checkpoint import Checkpoint
from shopfloor.pipeline.engine import RunResult
from shopfloor.pipeline.events import PipelineEvent, StageStarted, event_kind
from shopfloor.pipeline.graph import Graph
from shopfloor.pipeline.prepare import Preparer
from shopfloor.server.app import ServerContext
from shopfloor.server.sse import EventFeed
from shopfloor.server.web_interviewer import WebInterviewer


class NotFound(UserError):
    http_status = 404


class RunNotFound(NotFound):
    def __init__(self, run_id: str) -> None:
        super().__init__(f"no pipeline {run_id!r} on this server", where="pipelines",
                         fix="list them with GET /pipelines")


class TooManyRuns(UserError):
    http_status = 429

    def __init__(self, limit: int) -> None:
        super().__init__(f"{limit} pipelines are already running", where="pipelines",
                         fix="wait for one to finish, or raise --max-runs / [server] max_runs")


@dataclass
class ManagedRun:
    id: str
    graph: Graph
    logs_root: Path
    backend: str
    started_at: float
    stop: threading.Event = field(default_factory=threading.Event)
    feed: EventFeed = field(default_factory=EventFeed)
    interviewer: WebInterviewer = field(init=False)
    thread: threading.Thread | None = None
    current_node: str = ""
    result: RunResult | None = None
    error: str = ""

    def __post_init__(self) -> None:
        self.interviewer = WebInterviewer(self.stop)

    def observe(self, event: PipelineEvent) -> None:
        if isinstance(event, StageStarted):
            self.current_node = event.name
        self.feed.publish(event_kind(event), event.to_data())

    @property
    def status(self) -> str:
        if self.result is not None:
            return self.result.status
        if self.error:
            return "error"
        return "stopping" if self.stop.is_set() else "running"

    def checkpoint(self) -> Checkpoint | None:
        """The latest checkpoint, following loop restarts into their fresh directories."""
        root = self.result.logs_root if self.result else self.logs_root
        for _ in range(1000):  # bounded: a restart chain is finite, a corrupt one must not spin
            if not Checkpoint.exists(root):
                return None
            try:
                ckpt = Checkpoint.load(root)
            except UserError:
                return None  # mid-write by another process: report no progress rather than fail
            if not ckpt.restarted_into:
                return ckpt
            root = Path(ckpt.restarted_into)
        return None

    def snapshot(self) -> dict[str, Any]:
        ckpt = self.checkpoint()
        data: dict[str, Any] = {
            "id": self.id, "name": self.graph.name, "goal": self.graph.goal, "status": self.status,
            "backend": self.backend, "started_at": self.started_at, "logs_root": str(self.logs_root),
            "current_node": "" if self.result else self.current_node,
            "completed_nodes": ckpt.completed_nodes if ckpt else [],
            "node_outcomes": ckpt.node_outcomes if ckpt else {},
            "pending_questions": [q.to_dict() for q in self.interviewer.pending()],
            "error": self.error,
        }
        if self.result is not None:
            data.update(self.result.to_json())
            data["id"] = self.id
        return data


class RunManager:
    def __init__(self, server: ServerContext) -> None:
        self.server = server
        self.max_concurrent = server.settings.max_runs
        self.shutdown_grace_s = server.settings.shutdown_grace_s
        self._runs: dict[str, ManagedRun] = {}
        self._lock = threading.Lock()

    @cached_property
    def preparer(self) -> Preparer:
        """The same checks as `shopfloor run` and `validate` (built once: plugins do not change)."""
        from shopfloor.assembly import pipeline_preparer

        return pipeline_preparer()

    def list(self) -> list[ManagedRun]:
        with self._lock:
            return list(self._runs.values())

    def get(self, run_id: str) -> ManagedRun:
        with self._lock:
            run = self._runs.get(run_id)
        if run is None:
            raise RunNotFound(run_id)
        return run

    def start(self, source: str, *, context: dict[str, Any] | None = None,
              backend: str | None = None) -> tuple[ManagedRun, list[str]]:
        """Validate and launch; returns the run and the warning lines. Invalid DOT raises UserError."""
        from shopfloor import assembly
        from shopfloor.pipeline.run_dir import Manifest
        from shopfloor.pipeline.runner import new_run_id

        backend = backend or self.server.backend
        factory = assembly.registry_factory(backend)
        prepared = self.preparer.prepare(source)
        graph = prepared.graph
        with self._lock:
            if sum(1 for r in self._runs.values() if r.result is None and not r.error) >= self.max_concurrent:
                raise TooManyRuns(self.max_concurrent)
            manifest = Manifest(new_run_id(graph.name), graph.name, graph.goal, time.time(), backend=backend,
                                interviewer="web", initial_context=dict(context or {}))
            run = ManagedRun(manifest.run_id, graph, self.server.runs_dir / manifest.run_id, backend,
                             manifest.started_at)
            self._runs[run.id] = run
        run.thread = threading.Thread(target=self._execute, args=(run, manifest, source, factory),
                                      name=f"run-{run.id}", daemon=True)
        run.thread.start()
        return run, [d.line() for d in prepared.warnings]

    def _execute(self, run: ManagedRun, manifest: Any, source: str, factory: Any) -> None:
        from shopfloor.observe.runs import registered_run
        from shopfloor.pipeline.runner import start_run

        try:
            run.result = registered_run(run.id, "<http>", run.logs_root, lambda: start_run(
                run.graph, logs_root=run.logs_root, registry_factory=factory, interviewer=run.interviewer,
                manifest=manifest, dot_source=source, config=self.server.config, observers=[run.observe],
                stop_event=run.stop))
        except Exception as exc:  # a crashed run must still end its stream and show why
            run.error = f"{type(exc).__name__}: {exc}"
            run.feed.publish("RunError", {"error": run.error})
        finally:
            run.feed.close()

    def cancel(self, run_id: str) -> ManagedRun:
        run = self.get(run_id)
        run.stop.set()
        return run

    def shutdown(self) -> None:
        """Ask every run to stop, then give them a bounded time to checkpoint."""
        runs = self.list()
        for run in runs:
            run.stop.set()
        deadline = time.monotonic() + self.shutdown_grace_s
        for run in runs:
            if run.thread is not None:
                run.thread.join(max(0.0, deadline - time.monotonic()))
