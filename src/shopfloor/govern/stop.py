"""The emergency stop: `shopfloor stop RUN_ID | --all`, and the same over HTTP.

A stop is a request the run itself carries out, because only the run can
leave a consistent checkpoint behind. The requester
1. writes a stop request `<state dir>/stop-requests/<run_id>`, which a watcher
   thread in every run process (`StopWatcher`, started for each run through the
   composition root) turns into `scope.stop_requested` within
   `DEFAULT_WATCH_INTERVAL_S` — this reaches runs hosted by the HTTP server too;
2. sends SIGTERM to a CLI run's process, which `shopfloor run` turns into the
   same event (a second path, should the watcher be busy);
3. waits until the run registry says the run is no longer running.
The run then aborts its agent sessions (the in-flight LLM stream is cancelled,
sandboxed commands are killed), writes its checkpoint and is marked stopped;
`shopfloor resume --logs-root DIR` continues it. A run process that does not
stop within `DEFAULT_KILL_AFTER_S` is killed; its last checkpoint stays
resumable. `--all` also kills every sandbox left under the state directory.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from shopfloor.errors import UserError
from shopfloor.observe.runs import RUNNING, RunRecord, RunRegistry, pid_alive
from shopfloor.store import state_dir

STOP_REQUESTS_DIR = "stop-requests"
#: How often a run checks for a stop request.
DEFAULT_WATCH_INTERVAL_S = 0.05
#: How long `stop` waits for a run to report itself stopped before killing its process.
DEFAULT_KILL_AFTER_S = 10.0
#: How often `stop` polls the run registry while it waits.
POLL_S = 0.01
#: Runs hosted in-process by the HTTP server are registered under this pipeline name.
HTTP_HOSTED = "<http>"


def request_path(run_id: str) -> Path:
    return state_dir() / STOP_REQUESTS_DIR / run_id


class StopWatcher:
    """Turns a stop request for `run_id` into `event.set()`; one daemon thread per run."""

    def __init__(self, run_id: str, event: threading.Event,
                 interval_s: float = DEFAULT_WATCH_INTERVAL_S) -> None:
        self.path = request_path(run_id)
        self.path.unlink(missing_ok=True)  # a request for an earlier attempt must not stop a resume
        self.event = event
        self.interval_s = interval_s
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._watch, name=f"stop-watch-{run_id}", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._closed.wait(self.interval_s):
            if self.path.exists():
                self.event.set()
                self.path.unlink(missing_ok=True)
                return

    def close(self) -> None:
        self._closed.set()
        self._thread.join(timeout=1.0)
        self.path.unlink(missing_ok=True)


@dataclass
class StopResult:
    run_id: str
    outcome: str          # stopped | killed | stopping | not_running
    elapsed_s: float
    logs_root: str
    pid: int | None
    message: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _alive(pid: int) -> bool:
    """`pid_alive`, except that a zombie (exited, not yet reaped) has stopped."""
    if not pid_alive(pid):
        return False
    stat = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError):
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has stopped
    return True


def _is_shopfloor(pid: int) -> bool:
    """Guard against a recycled pid: only signal a process that is running shopfloor."""
    try:
        return b"shopfloor" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _request(record: RunRecord) -> None:
    path = request_path(record.run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(str(time.time()))
    if record.pipeline != HTTP_HOSTED and record.pid and record.pid != os.getpid() \
            and _is_shopfloor(record.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(record.pid, signal.SIGTERM)


def _wait(registry: RunRegistry, record: RunRecord, started: float, kill_after_s: float) -> StopResult:
    def result(outcome: str, message: str) -> StopResult:
        return StopResult(record.run_id, outcome, round(time.monotonic() - started, 4), record.logs_root,
                          record.pid, message)

    deadline = started + kill_after_s
    while True:
        current = registry.get(record.run_id)
        if current is None or current.status != RUNNING:
            return result("stopped", f"run {record.run_id} stopped; resume with "
                                     f"`shopfloor resume --logs-root {record.logs_root}`")
        own_process = record.pipeline == HTTP_HOSTED or record.pid in (None, os.getpid())
        gone = not own_process and not _alive(record.pid or 0)
        if own_process and time.monotonic() >= deadline:
            return result("stopping", f"run {record.run_id} was asked to stop and is finishing its step")
        if gone or time.monotonic() >= deadline:
            if not gone and record.pid and _is_shopfloor(record.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(record.pid, signal.SIGKILL)
            registry.finish(record.run_id, "stopped")
            request_path(record.run_id).unlink(missing_ok=True)
            return result("killed", f"run {record.run_id} did not stop by itself and was killed; its last "
                                    "checkpoint is resumable "
                                    f"(`shopfloor resume --logs-root {record.logs_root}`)")
        time.sleep(POLL_S)


def stop_runs(run_ids: list[str] | None, *, kill_after_s: float = DEFAULT_KILL_AFTER_S,
              registry: RunRegistry | None = None) -> list[StopResult]:
    """Stop the named runs (None: every live run) and wait for each; all requests go out first."""
    own = registry is None
    registry = registry or RunRegistry()
    try:
        if run_ids is None:
            records = registry.live()
        else:
            records = []
            for run_id in run_ids:
                record = registry.get(run_id)
                if record is None:
                    raise UserError(f"no run {run_id!r} in the run registry", where=str(state_dir()),
                                    fix="list runs with `shopfloor runs` or check SHOPFLOOR_HOME")
                records.append(record)
        started = time.monotonic()
        live = [r for r in records if r.status == RUNNING]
        for record in live:
            _request(record)
        results = [StopResult(r.run_id, "not_running", 0.0, r.logs_root, r.pid,
                              f"run {r.run_id} is {r.status}") for r in records if r.status != RUNNING]
        results += [_wait(registry, record, started, kill_after_s) for record in live]
        if run_ids is None:
            from shopfloor.sandbox import kill_all

            kill_all()  # anything a killed run left behind
        return results
    finally:
        if own:
            registry.close()
