"""One running sandbox: bubblewrap + the supervisor inside it, seen from the host.

`SandboxInstance.start()` launches bubblewrap (joined to the sandbox's cgroup
before it execs), waits for the supervisor's "ready", and registers the
sandbox for the emergency stop. `exec()` hands the supervisor a command plus
the write ends of two fresh pipes and collects its output with the same
timeout/kill logic as host commands. `stop()` kills the whole tree.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from shopfloor.errors import UserError
from shopfloor.sandbox import registry
from shopfloor.sandbox.cgroups import SandboxCgroup
from shopfloor.sandbox.process import ProcessOutcome, Watched, collect, kill_group

#: Runs inside the sandbox as a plain script (standard library only).
SUPERVISOR_SCRIPT = Path(__file__).with_name("supervisor.py")
#: Seconds to wait for a new sandbox's supervisor to report ready.
DEFAULT_START_TIMEOUT_S = 15.0
#: Exit status reported for a command whose sandbox ended under it (killed by SIGKILL).
SANDBOX_GONE_STATUS = -signal.SIGKILL


@dataclass
class _Pending:
    exit_r: int
    exit_w: int
    status: int | None = None
    done: threading.Event = field(default_factory=threading.Event)


class SandboxInstance:
    """A started sandbox that runs commands until `stop()` (or until it dies)."""

    def __init__(self, cgroup: SandboxCgroup | None,
                 start_timeout_s: float = DEFAULT_START_TIMEOUT_S) -> None:
        self.cgroup = cgroup
        self.start_timeout_s = start_timeout_s
        self.proc: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None
        self._entry: registry.Entry | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, _Pending] = {}
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self.alive = False

    @staticmethod
    def supervisor_command(control_fd: int, bridge_mount: str, ports: Sequence[int]) -> list[str]:
        # -E -s: ignore PYTHON* variables and user site-packages; the supervisor needs only stdlib.
        return [sys.executable, "-E", "-s", str(SUPERVISOR_SCRIPT), str(control_fd), bridge_mount,
                *map(str, ports)]

    def start(self, build_argv: Callable[[int], list[str]]) -> None:
        """Launch bubblewrap; `build_argv(fd)` gives its argv with the supervisor's control fd."""
        host_end, inner_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._control = host_end
        with tempfile.TemporaryFile() as errors:
            try:
                self.proc = subprocess.Popen(build_argv(inner_end.fileno()), env={}, stdin=subprocess.DEVNULL,
                                             stdout=errors, stderr=errors, pass_fds=(inner_end.fileno(),),
                                             start_new_session=True, preexec_fn=joining(self.cgroup))
            finally:
                inner_end.close()
            self._entry = registry.register(self.proc.pid, self.cgroup)
            host_end.settimeout(self.start_timeout_s)
            try:
                ready = host_end.recv(4096)
            except TimeoutError:
                ready = b""
            if not ready or json.loads(ready).get("event") != "ready":
                self.stop()
                errors.seek(0)
                detail = errors.read().decode(errors="replace").strip().splitlines()
                raise UserError(f"the sandbox did not start: {detail[-1] if detail else 'no output'}",
                                where="bubblewrap", fix="check the [sandbox] paths in shopfloor.toml")
        host_end.settimeout(None)
        self.alive = True
        threading.Thread(target=self._read_events, daemon=True).start()

    def _read_events(self) -> None:
        assert self._control is not None
        while True:
            try:
                data = self._control.recv(4096)
            except OSError:
                data = b""
            if not data:
                break
            event = json.loads(data)
            if event.get("event") == "exit":
                self._finish(event["id"], int(event["status"]))
        # The supervisor is gone (stopped, killed, or killed by hostile code): so is every command.
        self.alive = False
        with self._lock:
            ids = list(self._pending)
        for command_id in ids:
            self._finish(command_id, SANDBOX_GONE_STATUS)

    def _finish(self, command_id: int, status: int) -> None:
        with self._lock:
            pending = self._pending.get(command_id)
        if pending is None or pending.done.is_set():
            return
        pending.status = status
        pending.done.set()
        os.write(pending.exit_w, b"x")

    def counters(self) -> tuple[int, int]:
        """(memory-limit kills, refused forks) so far, for attributing a command's end to a limit."""
        if self.cgroup is None:
            return (0, 0)
        return (self.cgroup.oom_kills(), self.cgroup.process_limit_hits())

    def exec(self, argv: Sequence[str], *, cwd: str, env: Mapping[str, str],
             rlimits: Sequence[tuple[int, int, int]], timeout_s: float, kill_grace_s: float,
             max_output_bytes: int, sink: Callable[[str, bytes], None] | None = None) -> ProcessOutcome:
        if not self.alive or self._control is None:
            raise RuntimeError("sandbox is not running")
        command_id = next(self._ids)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        exit_r, exit_w = os.pipe()
        pending = _Pending(exit_r, exit_w)
        with self._lock:
            self._pending[command_id] = pending
        started = time.monotonic()
        request = {"op": "exec", "id": command_id, "argv": list(argv), "cwd": cwd, "env": dict(env),
                   "rlimits": [list(r) for r in rlimits]}
        try:
            try:
                with self._send_lock:
                    socket.send_fds(self._control, [json.dumps(request).encode()], [out_w, err_w])
            except OSError:
                self._finish(command_id, SANDBOX_GONE_STATUS)
            finally:
                os.close(out_w)
                os.close(err_w)
            return collect(Watched(stdout_fd=out_r, stderr_fd=err_r, exit_fd=exit_r,
                                   status=lambda: pending.status if pending.status is not None else -9,
                                   signal_tree=lambda sig: self._signal(command_id, sig)),
                           started=started, timeout_s=timeout_s, kill_grace_s=kill_grace_s,
                           max_output_bytes=max_output_bytes, sink=sink)
        finally:
            with self._lock:
                self._pending.pop(command_id, None)
            os.close(exit_r)
            os.close(exit_w)

    def _signal(self, command_id: int, sig: int) -> None:
        if self._control is None:
            return
        with self._send_lock, contextlib.suppress(OSError):
            self._control.send(json.dumps({"op": "signal", "id": command_id, "sig": sig}).encode())

    def stop(self) -> None:
        """Kill everything in the sandbox and release its cgroup and registry entry."""
        self.alive = False
        if self.proc is not None:
            kill_group(self.proc.pid, signal.SIGKILL)
            if self.cgroup is not None:
                self.cgroup.kill()
            self.proc.wait()
        if self._control is not None:
            with contextlib.suppress(OSError):
                self._control.shutdown(socket.SHUT_RDWR)
            self._control.close()
            self._control = None
        if self.cgroup is not None:
            self.cgroup.remove()
        if self._entry is not None:
            registry.unregister(self._entry)
            self._entry = None


def joining(cgroup: SandboxCgroup | None) -> Callable[[], None] | None:
    """The hook run in the child before bubblewrap execs: join the sandbox's cgroups."""
    if cgroup is None:
        return None
    procs_files = [str(g / "cgroup.procs") for g in (cgroup.pids, cgroup.memory) if g is not None]

    def join() -> None:  # between fork and exec: plain system calls only
        for procs in procs_files:
            fd = os.open(procs, os.O_WRONLY)
            os.write(fd, b"0")
            os.close(fd)
    return join
