"""Fixtures for sandbox tests: real bubblewrap environments and host-side canaries.

Every environment a test opens is cleaned up at teardown, and the test then
checks that no sandbox is left registered and no cgroup is left behind.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest

from shopfloor.sandbox import registry
from shopfloor.sandbox.bwrap import SandboxedExecutionEnvironment
from shopfloor.sandbox.environment import ExecResult, ExecutionEnvironment
from shopfloor.sandbox.policy import SandboxPolicy


def processes_with_argument(marker: str) -> list[int]:
    """Pids whose command line contains `marker` (to prove a sandboxed process is gone)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
                state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if marker.encode() in cmdline and state != "Z":
                found.append(int(entry))
    return found


def sleep_marker() -> str:
    """A unique `sleep` argument (a valid number of seconds) by which /proc finds that sleep."""
    return f"{time.time_ns() % 10**6}.{uuid.uuid4().int % 1000}"


def wait_for_processes(marker: str, *, present: bool, timeout_s: float) -> list[int]:
    """Poll until processes with `marker` exist (`present`) or are all gone; returns the last look.

    SIGKILLed processes may take a moment to finish exiting.
    """
    deadline = time.monotonic() + timeout_s
    found = processes_with_argument(marker)
    while bool(found) != present and time.monotonic() < deadline:
        time.sleep(0.05)
        found = processes_with_argument(marker)
    return found


@contextmanager
def sandbox_in_another_process(workspace: Path,
                               env: Mapping[str, str]) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """A second Python process whose sandbox runs `sleep MARKER`, then prints the sleep's exit code.

    Yields (that process, the marker) once the sleep is seen running; the process is killed at exit.
    """
    marker = sleep_marker()
    script = textwrap.dedent(f"""
        from shopfloor.sandbox.bwrap import SandboxedExecutionEnvironment
        env = SandboxedExecutionEnvironment({str(workspace)!r})
        env.initialize()
        print("ready", flush=True)
        result = env.exec_command("sleep {marker}", timeout_ms=60_000)
        print(result.exit_code, flush=True)
    """)
    host = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=dict(env))
    try:
        assert host.stdout is not None and host.stdout.readline() == "ready\n"
        wait_for_processes(marker, present=True, timeout_s=10)
        yield host, marker
    finally:
        host.kill()
        host.wait()


def run_in_background(env: ExecutionEnvironment, command: str = "sleep 60") -> Callable[[], ExecResult]:
    """Start `command` on `env` in a thread, so the test can stop it from outside.

    Returns `finished()`: waits (5 s at most) for the command, checks that it ended, gives its result.
    """
    results: list[ExecResult] = []
    worker = threading.Thread(target=lambda: results.append(env.exec_command(command, timeout_ms=60_000)))
    worker.start()

    def finished() -> ExecResult:
        worker.join(5)
        assert not worker.is_alive()
        return results[0]
    return finished


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "workspace"
    (ws / ".git" / "hooks").mkdir(parents=True)
    (ws / "README.md").write_text("hello\n")
    return ws


@pytest.fixture
def open_sandbox(workspace: Path) -> Iterator[Callable[..., SandboxedExecutionEnvironment]]:
    """Factory: `open_sandbox(**policy_fields)` gives an initialized sandbox on `workspace`."""
    opened: list[SandboxedExecutionEnvironment] = []

    def factory(ws: Path | None = None, **policy: object) -> SandboxedExecutionEnvironment:
        env = SandboxedExecutionEnvironment(ws or workspace, SandboxPolicy(**{"kill_grace_s": 0.5, **policy}))
        env.initialize()
        opened.append(env)
        return env

    yield factory
    # The registry (per test, under its own SHOPFLOOR_HOME) names every live sandbox's cgroups.
    groups = [g for e in registry.entries() if e.cgroup for g in (e.cgroup.pids, e.cgroup.memory) if g]
    for env in opened:
        env.cleanup()
    assert registry.entries() == []
    assert [g for g in groups if g.exists()] == []


@pytest.fixture
def outside_dir() -> Iterator[Path]:
    """A host directory outside the workspace, visible (read-only) inside the sandbox."""
    path = Path("/var/tmp") / f"shopfloor-canary-{uuid.uuid4().hex[:8]}"
    path.mkdir()
    (path / "canary.txt").write_text("untouched\n")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def home_secret() -> Iterator[Path]:
    """A secret file in the real home directory of the user running the tests."""
    path = Path.home() / f".shopfloor-test-secret-{uuid.uuid4().hex[:8]}"
    path.write_text("TOP-SECRET-VALUE\n")
    path.chmod(0o600)
    yield path
    path.unlink(missing_ok=True)


class LoopbackServer:
    """A TCP server on 127.0.0.1 that greets each client, counting connections."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            with conn:
                data = conn.recv(100)
                conn.sendall(b"host says: " + data)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def loopback_server() -> Iterator[LoopbackServer]:
    server = LoopbackServer()
    yield server
    server.close()


def connect_script(port: int, host: str = "127.0.0.1") -> str:
    """A python3 one-liner run inside the sandbox: connect, send, print the reply or the error."""
    return ("python3 -c \"import socket,sys\n"
            "try:\n"
            f"    s=socket.create_connection(('{host}',{port}),timeout=3)\n"
            "    s.sendall(b'ping'); print(s.recv(100))\n"
            "except OSError as e:\n"
            "    print('ERR', e); sys.exit(3)\"")
