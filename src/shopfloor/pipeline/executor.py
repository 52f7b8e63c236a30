"""Running one node: its handler, the retry loop with backoff, the timeout, and its status.json.

Shared by the engine's main traversal and by parallel branches. The final
Outcome is written to `{logs_root}/{node_id}/status.json` together with the
node's step key; after a crash, a node whose status.json carries the step being
resumed is recovered from that file instead of being run a second time.
"""

from __future__ import annotations

import json
import random
import threading
import time
from pathlib import Path
from typing import Any

from shopfloor.pipeline.context import Context
from shopfloor.pipeline.events import (
    EventBus,
    StageCompleted,
    StageFailed,
    StageRecovered,
    StageRetrying,
    StageStarted,
)
from shopfloor.pipeline.graph import Graph, Node
from shopfloor.pipeline.handler import Handler, HandlerRegistry
from shopfloor.pipeline.node_attrs import as_bool, as_seconds
from shopfloor.pipeline.outcome import Outcome, StageStatus
from shopfloor.pipeline.retry import RetryPolicy, build_retry_policy
from shopfloor.pipeline.run_dir import STATUS_FILE, write_file

RETRY_COUNT_KEY = "internal.retry_count.{}"
#: Executions of the running node in this run so far, the current one included (1-based). Transient:
#: the per-node totals are checkpointed as `node_attempts`, so one key serves every node.
ATTEMPT_KEY = "internal.transient.attempt"
AUTO_STATUS_NOTES = "auto-status: handler completed without writing status"


class RunStopped(Exception):
    """A stop was requested while a node was running or waiting to retry."""


def read_status_file(stage_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((stage_dir / STATUS_FILE).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


class NodeExecutor:
    """Executes nodes for one run; thread-safe, so parallel branches share it."""

    def __init__(self, registry: HandlerRegistry, events: EventBus, stop_event: threading.Event,
                 rng: random.Random | None = None) -> None:
        self.registry = registry
        self.events = events
        self.stop_event = stop_event
        self.rng = rng or random.Random()
        self._lock = threading.Lock()

    def recover(self, node: Node, logs_root: Path, step: str, index: int) -> Outcome | None:
        """The outcome recorded for `step` before a crash, if the node got that far."""
        data = read_status_file(logs_root / node.id)
        if data is None or data.get("step") != step:
            return None
        outcome = Outcome.from_dict(data)
        self.events.emit(StageRecovered(node.id, index, outcome.status.value))
        return outcome

    def execute(self, node: Node, context: Context, graph: Graph, logs_root: Path, *,
                step: str, index: int, retries: dict[str, int], attempts: dict[str, int],
                flush: bool = True) -> Outcome:
        """Run `node` and write its status.json; with `flush=False` the caller flushes the events
        itself before anything else runs (the engine does, with its checkpoint's event)."""
        handler = self.registry.resolve(node)
        policy = build_retry_policy(node, graph)
        stage_dir = logs_root / node.id
        try:
            stage_dir.mkdir()
        except FileExistsError:  # a revisit or a resume: a stale file must not pass for this run's status
            (stage_dir / STATUS_FILE).unlink(missing_ok=True)
        except FileNotFoundError:
            stage_dir.mkdir(parents=True, exist_ok=True)
        self.events.emit(StageStarted(node.id, index, node.handler_type))
        started = time.monotonic()
        outcome, tries = self._attempts(handler, policy, node, context, graph, logs_root, index, retries,
                                        attempts)
        record = outcome.to_dict() | {"node_id": node.id, "step": step, "attempts": tries}
        # A plain write, not temp+rename: a torn status.json does not parse and only means the node
        # runs again on resume, so atomicity would buy nothing here and cost a rename per node.
        # Unindented, so the C encoder writes it (indent= falls back to the pure-Python one).
        write_file(stage_dir / STATUS_FILE, json.dumps(record, default=str).encode())
        duration = time.monotonic() - started
        if outcome.status == StageStatus.FAIL:
            self.events.emit(StageFailed(node.id, index, outcome.failure_reason, will_retry=False))
        else:
            self.events.emit(StageCompleted(node.id, index, duration, outcome.status.value))
        if flush:
            self.events.flush()  # to the OS before anything else runs, parallel branches included
        return outcome

    def _attempts(self, handler: Handler, policy: RetryPolicy, node: Node, context: Context, graph: Graph,
                  logs_root: Path, index: int, retries: dict[str, int],
                  attempts: dict[str, int]) -> tuple[Outcome, int]:
        for attempt in range(1, policy.max_attempts + 1):
            with self._lock:
                attempts[node.id] = attempts.get(node.id, 0) + 1
                context.set(ATTEMPT_KEY, attempts[node.id])
            has_more = attempt < policy.max_attempts
            try:
                outcome = self._call(handler, node, context, graph, logs_root)
            except RunStopped:
                raise
            except Exception as exc:  # spec 4.12: a handler's exception becomes a FAIL outcome
                reason = f"{type(exc).__name__}: {exc}"
                if has_more and policy.should_retry(exc):
                    self._retry_wait(node, index, attempt, policy, retries, context, reason)
                    continue
                return Outcome(StageStatus.FAIL, failure_reason=reason), attempt
            if outcome.status.is_success or outcome.status == StageStatus.SKIPPED:
                self._set_retries(node, context, retries, 0)
                return outcome, attempt
            # RETRY and FAIL both use the remaining attempts (DoD 11.5).
            if has_more:
                self._retry_wait(node, index, attempt, policy, retries, context,
                                 outcome.failure_reason or outcome.status.value)
                continue
            if outcome.status == StageStatus.RETRY:
                if as_bool(node.get("allow_partial")):
                    return Outcome(StageStatus.PARTIAL_SUCCESS, notes="retries exhausted, partial accepted",
                                   context_updates=outcome.context_updates), attempt
                return Outcome(StageStatus.FAIL, failure_reason="max retries exceeded",
                               context_updates=outcome.context_updates), attempt
            return outcome, attempt
        raise AssertionError("unreachable: the last attempt always returns")

    def _set_retries(self, node: Node, context: Context, retries: dict[str, int], count: int) -> None:
        with self._lock:
            if not count and node.id not in retries:
                return  # never retried: nothing to reset
            retries[node.id] = count
        context.set(RETRY_COUNT_KEY.format(node.id), count)

    def _retry_wait(self, node: Node, index: int, attempt: int, policy: RetryPolicy, retries: dict[str, int],
                    context: Context, reason: str) -> None:
        self._set_retries(node, context, retries, retries.get(node.id, 0) + 1)
        delay = policy.backoff.delay_for_attempt(attempt, self.rng)
        self.events.emit(StageFailed(node.id, index, reason, will_retry=True))
        self.events.emit(StageRetrying(node.id, index, attempt + 1, round(delay, 4)))
        if self.stop_event.wait(delay):
            raise RunStopped(node.id)

    def _call(self, handler: Handler, node: Node, context: Context, graph: Graph, logs_root: Path) -> Outcome:
        timeout = as_seconds(node.get("timeout"))
        if timeout is None or getattr(handler, "handles_timeout", False):
            result = handler.execute(node, context, graph, logs_root)
        else:
            result = self._call_with_timeout(handler, node, context, graph, logs_root, timeout)
        return result if result is not None else self._status_file_outcome(node, logs_root)

    def _call_with_timeout(self, handler: Handler, node: Node, context: Context, graph: Graph,
                           logs_root: Path, timeout: float) -> Outcome | None:
        """Run the handler in a worker thread; give up on it after `timeout` or on a stop request.

        Python cannot kill a thread, so a handler that overruns is abandoned
        (its result ignored). Handlers that own a process enforce the timeout
        themselves (`handles_timeout = True`) and kill it.
        """
        box: dict[str, Any] = {}
        done = threading.Event()

        def work() -> None:
            try:
                box["result"] = handler.execute(node, context, graph, logs_root)
            except BaseException as exc:
                box["error"] = exc
            finally:
                done.set()

        threading.Thread(target=work, name=f"node-{node.id}", daemon=True).start()
        deadline = time.monotonic() + timeout
        while not done.wait(min(0.1, max(deadline - time.monotonic(), 0))):
            if self.stop_event.is_set():
                raise RunStopped(node.id)
            if time.monotonic() >= deadline:
                raise TimeoutError(f"node {node.id} timed out after {timeout:g}s")
        if "error" in box:
            raise box["error"]
        return box.get("result")

    def _status_file_outcome(self, node: Node, logs_root: Path) -> Outcome:
        """Appendix C: a handler that returns nothing reports through status.json (or auto_status)."""
        data = read_status_file(logs_root / node.id)
        if data is not None:
            return Outcome.from_dict(data)
        if as_bool(node.get("auto_status")):
            return Outcome(StageStatus.SUCCESS, notes=AUTO_STATUS_NOTES)
        return Outcome(StageStatus.FAIL, failure_reason=f"handler for {node.id} wrote no status",
                       notes="set auto_status=true to treat a silent handler as success")
