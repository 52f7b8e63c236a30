"""Typed pipeline events (attractor-spec 9.6) and the bus that records and delivers them.

Every event is a small dataclass whose `kind` is its class name. The bus
appends each one to `{logs_root}/events.jsonl` (hash-chained, via EventLog)
and hands it to the observers (CLI progress, HTTP/SSE, tests). The engine
flushes the log before starting the next node, so what a node did is on disk
before anything else happens.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from shopfloor.observe.eventlog import EventLog


@dataclass
class PipelineEvent:
    kind: ClassVar[str] = "PipelineEvent"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.kind = cls.__name__

    def to_data(self) -> dict[str, Any]:
        # Fields are scalars, so a shallow copy suffices; asdict() deep-copies, on every event.
        return dict(vars(self))


# -- pipeline lifecycle -------------------------------------------------------

@dataclass
class PipelineStarted(PipelineEvent):
    name: str
    id: str
    logs_root: str = ""


@dataclass
class PipelineResumed(PipelineEvent):
    name: str
    id: str
    next_node: str


@dataclass
class PipelineCompleted(PipelineEvent):
    duration: float
    artifact_count: int


@dataclass
class PipelineFailed(PipelineEvent):
    error: str
    duration: float


@dataclass
class PipelineStopped(PipelineEvent):
    """A stop was requested; the checkpoint is written and the run can be resumed."""

    next_node: str
    reason: str


@dataclass
class PipelineRestarted(PipelineEvent):
    """An edge with loop_restart=true: the run continues in a fresh log directory."""

    target: str
    new_logs_root: str


@dataclass
class GoalGateUnsatisfied(PipelineEvent):
    node: str
    status: str
    retry_target: str


# -- stage lifecycle ----------------------------------------------------------

@dataclass
class StageStarted(PipelineEvent):
    name: str
    index: int
    handler: str = ""


@dataclass
class StageCompleted(PipelineEvent):
    name: str
    index: int
    duration: float
    status: str = "success"


@dataclass
class StageFailed(PipelineEvent):
    name: str
    index: int
    error: str
    will_retry: bool


@dataclass
class StageRetrying(PipelineEvent):
    name: str
    index: int
    attempt: int
    delay: float


@dataclass
class StageRecovered(PipelineEvent):
    """On resume, a node that had finished before the crash is not run again; its status.json is used."""

    name: str
    index: int
    status: str


# -- parallel -----------------------------------------------------------------

@dataclass
class ParallelStarted(PipelineEvent):
    branch_count: int
    node: str = ""


@dataclass
class ParallelBranchStarted(PipelineEvent):
    branch: str
    index: int


@dataclass
class ParallelBranchCompleted(PipelineEvent):
    branch: str
    index: int
    duration: float
    success: bool


@dataclass
class ParallelCompleted(PipelineEvent):
    duration: float
    success_count: int
    failure_count: int


# -- human interaction --------------------------------------------------------

@dataclass
class InterviewStarted(PipelineEvent):
    question: str
    stage: str


@dataclass
class InterviewCompleted(PipelineEvent):
    question: str
    answer: str
    duration: float


@dataclass
class InterviewTimeout(PipelineEvent):
    question: str
    stage: str
    duration: float


# -- checkpoint ---------------------------------------------------------------

@dataclass
class CheckpointSaved(PipelineEvent):
    node_id: str


@dataclass
class CustomEvent(PipelineEvent):
    """An event from a plugin handler (via `RunScope.emit`), kept with its own kind."""

    custom_kind: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    def to_data(self) -> dict[str, Any]:
        return dict(self.data)


Observer = Callable[[PipelineEvent], None]


class EventBus:
    """Appends events to the run's hash-chained log and notifies observers, in order."""

    def __init__(self, log_path: Path | None = None, observers: list[Observer] | None = None) -> None:
        self._log = EventLog(log_path) if log_path is not None else None
        self._observers: list[Observer] = list(observers or [])
        self._lock = threading.RLock()

    def reopen(self, log_path: Path) -> None:
        """Continue in another log file (a loop_restart's fresh directory, a resumed restart)."""
        with self._lock:
            if self._log is not None:
                self._log.close()
            self._log = EventLog(log_path)

    def subscribe(self, observer: Observer) -> None:
        with self._lock:
            self._observers.append(observer)

    def emit(self, event: PipelineEvent) -> None:
        kind = event.custom_kind if isinstance(event, CustomEvent) else event.kind
        # One (re-entrant) lock around both keeps the log order and the order observers see the same,
        # even when parallel branches emit at once; an observer may itself emit.
        with self._lock:
            if self._log is not None:
                self._log.append(kind, event.to_data())
            for observer in self._observers:
                observer(event)

    def emit_raw(self, kind: str, data: dict[str, Any]) -> None:
        """The `RunScope.emit` of plugin handlers."""
        self.emit(CustomEvent(custom_kind=kind, data=dict(data)))

    def flush(self, *, durable: bool = False) -> None:
        """To the OS (survives kill -9) and, when `durable`, to disk (survives power loss)."""
        if self._log is not None:
            self._log.flush(durable=durable)

    def close(self) -> None:
        if self._log is not None:
            self._log.close()


def event_kind(event: PipelineEvent) -> str:
    return event.custom_kind if isinstance(event, CustomEvent) else event.kind
