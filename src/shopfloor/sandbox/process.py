"""Running one child process with a wall-clock timeout, a group kill and capped output.

Both execution environments (local and bubblewrap) spawn through `run_process`,
so timeouts, kill escalation and output capping behave the same everywhere.
The child gets its own process group (session) so that one signal reaches the
whole tree it started. Exit and pipe readiness are awaited with a selector on
the pipes and a pidfd, so a fast command costs no polling latency.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

#: Seconds between SIGTERM and SIGKILL when a timeout fires (the spec says 2).
DEFAULT_KILL_GRACE_S = 2.0
#: Bytes of each stream (stdout, stderr) kept in memory; the rest is read and dropped.
DEFAULT_MAX_OUTPUT_BYTES = 4 * 1024 * 1024
#: After the main process exits, how long to keep reading pipes still held open by
#: background children before giving up on them.
DEFAULT_DRAIN_AFTER_EXIT_S = 0.5

_READ_CHUNK = 1 << 16


class CappedBuffer:
    """Keeps the first and last `limit/2` bytes of a stream and counts what it dropped."""

    def __init__(self, limit: int) -> None:
        self.limit = max(limit, 0)
        self._head = bytearray()
        self._tail = bytearray()
        self.dropped = 0

    def write(self, data: bytes) -> None:
        room = self.limit // 2 - len(self._head)
        if room > 0:
            self._head += data[:room]
            data = data[room:]
        if not data:
            return
        self._tail += data
        keep = self.limit - self.limit // 2
        excess = len(self._tail) - keep
        if excess > 0:
            del self._tail[:excess]
            self.dropped += excess

    def getvalue(self) -> bytes:
        if not self.dropped:
            return bytes(self._head + self._tail)
        marker = f"\n[... {self.dropped} bytes of output dropped by the output cap ...]\n".encode()
        return bytes(self._head) + marker + bytes(self._tail)


@dataclass(frozen=True)
class ProcessOutcome:
    """What happened to one child process."""

    stdout: bytes
    stderr: bytes
    #: Exit status as subprocess reports it: negative N when killed by signal N.
    returncode: int
    timed_out: bool
    duration_ms: int
    dropped_bytes: int


def kill_group(pgid: int, sig: int) -> None:
    """Signal a whole process group, ignoring one that is already gone."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


@dataclass
class Watched:
    """A running command as the collector sees it: its pipes, how it signals exit, how to kill it."""

    stdout_fd: int
    stderr_fd: int
    #: Becomes readable when the command has exited.
    exit_fd: int
    #: The exit status (negative N for signal N); called only after exit_fd is readable.
    status: Callable[[], int]
    #: Sends a signal to the command's whole tree.
    signal_tree: Callable[[int], None]


def collect(watched: Watched, *, started: float, timeout_s: float | None,
            kill_grace_s: float = DEFAULT_KILL_GRACE_S, max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
            drain_after_exit_s: float = DEFAULT_DRAIN_AFTER_EXIT_S,
            sink: Callable[[str, bytes], None] | None = None) -> ProcessOutcome:
    """Read both pipes until exit, enforcing the timeout (SIGTERM, grace, SIGKILL); closes the pipes.

    `sink("out" | "err", chunk)`, when given, also sees every chunk as it arrives
    (live output for a terminal), uncapped.
    """
    buffers = {"out": CappedBuffer(max_output_bytes), "err": CappedBuffer(max_output_bytes)}
    timed_out = False
    status: int | None = None
    sel = selectors.DefaultSelector()
    try:
        sel.register(watched.stdout_fd, selectors.EVENT_READ, "out")
        sel.register(watched.stderr_fd, selectors.EVENT_READ, "err")
        sel.register(watched.exit_fd, selectors.EVENT_READ, "exit")
        deadline = started + timeout_s if timeout_s is not None else None
        drain_deadline: float | None = None
        kill_at: float | None = None
        open_streams = 2
        while open_streams or status is None:
            now = time.monotonic()
            if drain_deadline is not None and now >= drain_deadline:
                break  # background children keep the pipes open; do not wait on them
            if status is None and deadline is not None and now >= deadline and not timed_out:
                timed_out = True
                watched.signal_tree(signal.SIGTERM)
                kill_at = now + kill_grace_s
            if kill_at is not None and now >= kill_at:
                watched.signal_tree(signal.SIGKILL)
                kill_at = None
            pending = (None if timed_out else deadline, kill_at, drain_deadline)
            waits = [t for t in pending if t is not None]
            wait = max(0.0, min(waits) - now) if waits else None
            for key, _ in sel.select(wait):
                if key.data == "exit":
                    sel.unregister(watched.exit_fd)
                    status = watched.status()
                    drain_deadline = time.monotonic() + drain_after_exit_s
                    continue
                chunk = os.read(key.fd, _READ_CHUNK)
                if chunk:
                    buffers[key.data].write(chunk)
                    if sink is not None:
                        sink(key.data, chunk)
                else:
                    sel.unregister(key.fd)
                    open_streams -= 1
    finally:
        sel.close()
        os.close(watched.stdout_fd)
        os.close(watched.stderr_fd)
        if status is None or timed_out:
            # An exception escaped the loop, or a timeout fired: leave nothing of the tree behind.
            watched.signal_tree(signal.SIGKILL)
    return ProcessOutcome(
        stdout=buffers["out"].getvalue(), stderr=buffers["err"].getvalue(),
        returncode=status if status is not None else -signal.SIGKILL,
        timed_out=timed_out, duration_ms=int((time.monotonic() - started) * 1000),
        dropped_bytes=buffers["out"].dropped + buffers["err"].dropped,
    )


def run_process(
    argv: Sequence[str],
    *,
    cwd: str | None = None,
    env: Mapping[str, str] | None = None,
    timeout_s: float | None = None,
    kill_grace_s: float = DEFAULT_KILL_GRACE_S,
    max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
    on_start: Callable[[subprocess.Popen[bytes]], None] | None = None,
) -> ProcessOutcome:
    """Run `argv` on the host in a new session; on timeout its process group gets SIGTERM, then SIGKILL.

    `on_start` sees the Popen right after spawning (environments track it for cleanup).
    """
    started = time.monotonic()
    proc = subprocess.Popen(
        list(argv), cwd=cwd, env=dict(env) if env is not None else None,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )
    if on_start is not None:
        on_start(proc)
    assert proc.stdout is not None and proc.stderr is not None
    pidfd = os.pidfd_open(proc.pid)
    try:
        return collect(Watched(stdout_fd=os.dup(proc.stdout.fileno()), stderr_fd=os.dup(proc.stderr.fileno()),
                               exit_fd=pidfd, status=proc.wait,
                               signal_tree=lambda sig: kill_group(proc.pid, sig)),
                       started=started, timeout_s=timeout_s, kill_grace_s=kill_grace_s,
                       max_output_bytes=max_output_bytes)
    finally:
        os.close(pidfd)
        proc.stdout.close()
        proc.stderr.close()
        if proc.returncode is None:
            kill_group(proc.pid, signal.SIGKILL)
            proc.wait()
