"""One running sandbox: bubblewrap + the supervisor inside it, seen from the host.

`SandboxInstance.start()` launches bubblewrap (joined to the sandbox's cgroup
before it execs), waits for the supervisor's "ready", and registers the
sandbox for the emergency stop. `exec()` hands the supervisor a command plus
the write ends of three fresh pipes (stdout, stderr, exit status) and collects
them with the same timeout/kill logic as host commands. `stop()` kills the
whole tree.
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
#: The supervisor's first message once it is listening.
READY = b"ready"


class SandboxGoneError(RuntimeError):
    """The sandbox ended (stopped, emergency stop, or killed from inside) before a command could start."""


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
        self._send_lock = threading.Lock()

    @property
    def alive(self) -> bool:
        return self._control is not None and self.proc is not None and self.proc.poll() is None

    @staticmethod
    def supervisor_command(control_fd: int, rlimits: Sequence[tuple[int, int, int]], bridge_mount: str,
                           ports: Sequence[int]) -> list[str]:
        """The supervisor's argv; every command it starts inherits `rlimits` from it."""
        # -E -s -S: no PYTHON* variables, no site-packages (nor their .pth hooks): stdlib only.
        return [sys.executable, "-E", "-s", "-S", str(SUPERVISOR_SCRIPT), str(control_fd),
                json.dumps([list(r) for r in rlimits]), bridge_mount, *map(str, ports)]

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
            except (TimeoutError, OSError):
                ready = b""
            if ready != READY:
                self.stop()
                errors.seek(0)
                detail = errors.read().decode(errors="replace").strip().splitlines()
                raise UserError(f"the sandbox did not start: {detail[-1] if detail else 'no output'}",
                                where="bubblewrap", fix="check the [sandbox] paths in shopfloor.toml")
        host_end.settimeout(None)

    def counters(self) -> tuple[int, int]:
        """(memory-limit kills, refused forks) so far, for attributing a command's end to a limit."""
        if self.cgroup is None:
            return (0, 0)
        return (self.cgroup.oom_kills(), self.cgroup.process_limit_hits())

    def exec(self, argv: Sequence[str], *, cwd: str, env: Mapping[str, str], timeout_s: float,
             kill_grace_s: float,
             max_output_bytes: int, sink: Callable[[str, bytes], None] | None = None) -> ProcessOutcome:
        """Run one command. Its status comes back on a pipe of its own, which reads EOF
        if the supervisor dies first, so no reply has to be routed between callers."""
        command_id = next(self._ids)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        status_r, status_w = os.pipe()
        request = {"op": "exec", "id": command_id, "argv": list(argv), "cwd": cwd, "env": dict(env)}
        started = time.monotonic()
        try:
            with self._send_lock:
                if self._control is None:
                    raise SandboxGoneError("sandbox stopped")
                socket.send_fds(self._control, [json.dumps(request).encode()], [out_w, err_w, status_w])
        except OSError as exc:
            for fd in (out_r, err_r, status_r):
                os.close(fd)
            raise SandboxGoneError(str(exc)) from None
        finally:
            for fd in (out_w, err_w, status_w):
                os.close(fd)

        def read_status() -> int:
            data = os.read(status_r, 64)
            return int(data) if data else SANDBOX_GONE_STATUS

        try:
            return collect(Watched(stdout_fd=out_r, stderr_fd=err_r, exit_fd=status_r, status=read_status,
                                   signal_tree=lambda sig: self._signal(command_id, sig)),
                           started=started, timeout_s=timeout_s, kill_grace_s=kill_grace_s,
                           max_output_bytes=max_output_bytes, sink=sink)
        finally:
            os.close(status_r)

    def _signal(self, command_id: int, sig: int) -> None:
        with self._send_lock:
            if self._control is None:
                return
            with contextlib.suppress(OSError):
                self._control.send(json.dumps({"op": "signal", "id": command_id, "sig": sig}).encode())

    def stop(self) -> None:
        """Kill everything in the sandbox and release its cgroup and registry entry."""
        if self.proc is not None:
            kill_group(self.proc.pid, signal.SIGKILL)
            if self.cgroup is not None:
                self.cgroup.kill()
            self.proc.wait()
        with self._send_lock:
            if self._control is not None:
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
