"""A supervised service process: one release of the artifact, running on its own port.

The daemon owns these. Each backend runs in a private working copy of the
artifact's tree (a service that writes to its cwd must not corrupt the store),
in its own process group, and dies with the daemon (PR_SET_PDEATHSIG) so a
kill -9 of the daemon leaves no orphans serving stale code.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shlex
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from shopfloor.release.artifacts import tree_digest

#: How long a stopping service gets between SIGTERM and SIGKILL.
DEFAULT_STOP_TIMEOUT_S = 5.0
#: Pause between health probes while a backend starts.
DEFAULT_HEALTH_POLL_S = 0.05
#: A supervised backend that exits is restarted at most this many times.
DEFAULT_MAX_RESTARTS = 5
_PR_SET_PDEATHSIG = 1


def free_port() -> int:
    """A loopback port that was free a moment ago (the service binds it itself)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class BackendFailed(Exception):
    """The service did not start or did not become healthy."""


@dataclass
class Backend:
    role: str
    deployment_id: str
    digest: str
    workdir: Path
    command: str
    health_path: str
    env: dict[str, str]
    health_timeout_s: float
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started_at: float = 0.0
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def describe(self) -> dict[str, Any]:
        return {"role": self.role, "deployment_id": self.deployment_id, "digest": self.digest,
                "port": self.port, "pid": self.process.pid if self.process else None, "alive": self.alive(),
                "restarts": self.restarts, "started_at": self.started_at, "workdir": str(self.workdir)}

    def live_digest(self) -> str:
        """What is on disk where the service runs now (differs from `digest` if changed out of band)."""
        return tree_digest(self.workdir) if self.workdir.is_dir() else ""


def prepare_workdir(tree: Path, workdir: Path) -> None:
    if workdir.exists():
        shutil.rmtree(workdir)
    shutil.copytree(tree, workdir, symlinks=True)


def start(backend: Backend) -> None:
    backend.port = free_port()
    env = {**os.environ, **backend.env, "PORT": str(backend.port)}
    backend.log_path = backend.workdir.parent / f"{backend.workdir.name}.log"
    with backend.log_path.open("ab") as log:
        backend.process = subprocess.Popen(shlex.split(backend.command), cwd=backend.workdir, env=env,
                                           stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                           process_group=0, preexec_fn=_die_with_parent)
    backend.started_at = time.time()


def wait_healthy(backend: Backend, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    with httpx.Client(timeout=min(2.0, timeout_s)) as client:
        while time.monotonic() < deadline:
            if not backend.alive():
                code = backend.process.returncode if backend.process else None
                raise BackendFailed(f"service exited with code {code} before becoming healthy "
                                    f"(log: {backend.log_path})")
            try:
                resp = client.get(backend.url + backend.health_path)
                if resp.status_code == 200:
                    return
                last = f"HTTP {resp.status_code}"
            except httpx.HTTPError as exc:
                last = type(exc).__name__
            time.sleep(DEFAULT_HEALTH_POLL_S)
    raise BackendFailed(f"health check {backend.health_path} failed for {timeout_s:g}s (last: {last}; "
                        f"log: {backend.log_path})")


def stop(backend: Backend, timeout_s: float = DEFAULT_STOP_TIMEOUT_S) -> None:
    proc = backend.process
    if proc is not None and proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    shutil.rmtree(backend.workdir, ignore_errors=True)
