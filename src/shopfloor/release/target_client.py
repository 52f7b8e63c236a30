"""Talking to a target's daemon: start it when needed, then call its control API."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from shopfloor.errors import UserError
from shopfloor.release.daemon import target_dir
from shopfloor.release.targets import TargetConfig
from shopfloor.store import state_dir

#: How long a freshly spawned target daemon may take to write its control file.
DEFAULT_DAEMON_START_TIMEOUT_S = 15.0
#: Control calls wait this long at most (a backend start includes its health check).
DEFAULT_CONTROL_TIMEOUT_S = 120.0


#: How long a stopping daemon gets to stop its backends before it is killed.
DEFAULT_DAEMON_STOP_TIMEOUT_S = 10.0


_HTTP: httpx.Client | None = None
_HTTP_LOCK = threading.Lock()


def _http() -> httpx.Client:
    """One pooled client per process: building one costs more than a control call (TLS setup)."""
    global _HTTP
    with _HTTP_LOCK:
        if _HTTP is None:
            _HTTP = httpx.Client(trust_env=False)
        return _HTTP


def _gone(pid: int) -> bool:
    """True once `pid` has exited (reaping it if it is our own child, else a zombie looks alive)."""
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return True
    try:
        os.kill(pid, 0)
    except OSError:
        return True
    return False


class TargetUnavailable(UserError):
    """The target daemon is not running or does not answer."""


class TargetClient:
    def __init__(self, name: str, state: Path | None = None) -> None:
        self.name = name
        self.state_root = state or state_dir()
        self.dir = target_dir(self.state_root, name)

    # -- daemon lifecycle ----------------------------------------------------------------
    def _control(self) -> dict[str, Any] | None:
        try:
            info = json.loads((self.dir / "daemon.json").read_text())
        except (OSError, ValueError):
            return None
        try:
            if _gone(int(info["pid"])):
                return None
        except (KeyError, ValueError):
            return None
        return info

    def running(self) -> bool:
        return self._control() is not None

    def ensure_running(self, target: TargetConfig) -> dict[str, Any]:
        """Start the daemon unless one runs; a file lock keeps concurrent deploys to one daemon."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with (self.dir / "daemon.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            info = self._control()
            if info:
                return info
            log = (self.dir / "daemon.log").open("ab")
            proc = subprocess.Popen([sys.executable, "-m", "shopfloor.release.daemon", "--target", self.name,
                                     "--state", str(self.state_root), "--proxy-port", str(target.proxy_port)],
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
            log.close()
            deadline = time.monotonic() + DEFAULT_DAEMON_START_TIMEOUT_S
            while time.monotonic() < deadline:
                info = self._control()
                if info and info["pid"] == proc.pid:
                    return info
                if proc.poll() is not None:
                    break
                time.sleep(0.02)
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            raise TargetUnavailable(f"target daemon for {self.name!r} did not start",
                                    where=str(self.dir / "daemon.log"),
                                    fix=f"read the log; check that proxy_port {target.proxy_port} is free")

    def stop(self) -> bool:
        """Stop the daemon and every backend it runs; False when none was running."""
        info = self._control()
        if not info:
            return False
        with contextlib.suppress(httpx.HTTPError):
            self._call("POST", "/stop", {}, timeout=5.0)
        pid = int(info["pid"])
        deadline = time.monotonic() + DEFAULT_DAEMON_STOP_TIMEOUT_S
        while time.monotonic() < deadline:
            if _gone(pid):
                return True
            time.sleep(0.02)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        return True

    # -- control API ---------------------------------------------------------------------
    def _call(self, method: str, path: str, body: dict[str, Any] | None = None,
              timeout: float = DEFAULT_CONTROL_TIMEOUT_S) -> dict[str, Any]:
        info = self._control()
        if not info:
            raise TargetUnavailable(f"target {self.name!r} is not running", where=str(self.dir),
                                    fix=f"deploy to it: shopfloor deploy DIGEST --target {self.name}")
        url = f"http://127.0.0.1:{info['control_port']}{path}"
        try:
            resp = _http().request(method, url, json=body if method == "POST" else None, timeout=timeout)
            data: dict[str, Any] = resp.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise TargetUnavailable(f"target {self.name!r} did not answer {method} {path}: {exc}",
                                    where=str(self.dir / "daemon.log"),
                                    fix="run the command again; the deployment resumes") from None
        if resp.status_code >= 400:
            data["status_code"] = resp.status_code
        return data

    def state(self) -> dict[str, Any]:
        return self._call("GET", "/state")

    def ensure_backend(self, spec: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/backend", spec)

    def set_weight(self, weight: int) -> dict[str, Any]:
        return self._call("POST", "/weight", {"canary_weight": weight})

    def promote(self, deployment_id: str) -> dict[str, Any]:
        return self._call("POST", "/promote", {"deployment_id": deployment_id})

    def abort(self, deployment_id: str) -> dict[str, Any]:
        return self._call("POST", "/abort", {"deployment_id": deployment_id})

    def metrics(self, role: str, since: float) -> dict[str, Any]:
        return self._call("GET", f"/metrics?role={role}&since={since}")

    def live_digests(self) -> dict[str, str]:
        return self._call("GET", "/live-digests")
