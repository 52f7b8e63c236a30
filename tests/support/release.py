"""Release fixtures: tiny real HTTP services (python http.server) and a project declaring targets."""

from __future__ import annotations

import os
import signal
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shopfloor.release.ledger import Ledger
from shopfloor.release.target_client import TargetClient
from shopfloor.store import transaction

SERVICE_SOURCE = textwrap.dedent('''
    """A tiny service: GET /healthz is 200; GET /env/NAME answers $NAME; other paths answer per mode.txt.

    ok: 200 with the version; fail500: 500 (a bad build); slowstart: binds its port only once the
    file named by $START_GATE exists (at most 8 s), so a test can hold a deploy in flight.
    """
    import http.server, os, pathlib, time

    HERE = pathlib.Path(__file__).parent
    MODE = (HERE / "mode.txt").read_text().strip()
    VERSION = (HERE / "version.txt").read_text().strip()
    if MODE == "slowstart":
        deadline = time.monotonic() + 8
        while not os.path.exists(os.environ.get("START_GATE", "")) and time.monotonic() < deadline:
            time.sleep(0.02)
    if os.environ.get("START_LOG"):
        with open(os.environ["START_LOG"], "a") as fh:
            fh.write(f"{os.getpid()} {VERSION}\\n")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            status = 200
            if self.path != "/healthz" and MODE == "fail500":
                status = 500
            body = f"{VERSION}\\n".encode()
            if self.path.startswith("/env/"):
                body = os.environ.get(self.path[len("/env/"):], "<unset>").encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
''')


def make_service(root: Path, version: str, mode: str = "ok") -> Path:
    """A candidate workspace holding the service at `version`."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "app.py").write_text(SERVICE_SOURCE)
    (root / "version.txt").write_text(version + "\n")
    (root / "mode.txt").write_text(mode + "\n")
    return root


def target_toml(name: str = "web", *, strategy: str = "canary", steps: str = "[50]", interval_s: float = 0.2,
                count: int = 2, metrics: str = "", min_requests: int = 3, extra: str = "") -> str:
    return textwrap.dedent(f'''
        [[targets]]
        name = "{name}"
        command = "{sys.executable} app.py"
        health_path = "/healthz"
        proxy_port = 0
        strategy = "{strategy}"
        steps = {steps}
        health_timeout_s = 10
        {extra}

        [targets.analysis]
        interval_s = {interval_s}
        count = {count}
        min_requests = {min_requests}
    ''') + textwrap.dedent(metrics)


ERROR_RATE_METRIC = '''
[[targets.analysis.metrics]]
name = "errors"
kind = "error_rate"
success_max = 0.01
failure_above = 0.05
'''


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A project directory with shopfloor.toml as cwd; target daemons are stopped afterwards."""
    root = tmp_path / "project"
    root.mkdir()
    monkeypatch.chdir(root)
    monkeypatch.setenv("START_LOG", str(tmp_path / "starts.log"))
    monkeypatch.delenv("SHOPFLOOR_CONFIG", raising=False)
    yield root
    from shopfloor.release.target_client import TargetClient
    from shopfloor.store import state_dir

    targets = state_dir() / "release" / "targets"
    for name in os.listdir(targets) if targets.is_dir() else []:
        TargetClient(name).stop()


def starts(tmp_path: Path) -> list[str]:
    """Versions started so far, one per service process start."""
    log = tmp_path / "starts.log"
    return [line.split()[1] for line in log.read_text().splitlines()] if log.exists() else []


SMOKE_SOURCE = """import os, sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(os.environ["SHOPFLOOR_CANARY_URL"] + "/", timeout=5)
except urllib.error.HTTPError as exc:
    sys.exit(f"canary answered {exc.code}")
"""


def smoke_metric(directory: Path) -> str:
    """A `smoke` analysis metric: a script that GETs / on the canary directly and fails on 5xx."""
    script = directory / "smoke.py"
    script.write_text(SMOKE_SOURCE)
    return f'''
[[targets.analysis.metrics]]
name = "smoke"
kind = "smoke"
command = "{sys.executable} {script}"
'''


class Traffic:
    """Steady requests to a proxy from a background thread, recording (status, release digest)."""

    def __init__(self, port: int, pause_s: float = 0.005) -> None:
        self.url = f"http://127.0.0.1:{port}/"
        self.pause_s = pause_s
        self.seen: list[tuple[float, int, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=5) as client:
            while not self._stop.is_set():
                try:
                    resp = client.get(self.url)
                    digest = resp.headers.get("x-shopfloor-release", "")
                    self.seen.append((time.time(), resp.status_code, digest))
                except httpx.HTTPError:
                    self.seen.append((time.time(), 0, ""))
                time.sleep(self.pause_s)

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def orphan_deployment(digest: str, *, target: str = "web", env: dict[str, str] | None = None) -> None:
    """Leave a deployment mid-analysis, owned by a process that is gone (as if it died with the daemon)."""
    with Ledger() as ledger:
        with transaction(ledger.conn):
            ledger.insert_deployment(ledger.conn, dep_id="dep-orphan", target=target, digest=digest,
                                     kind="deploy", owner="0:gone", env=env)
        dep = ledger.deployment("dep-orphan")
        assert dep is not None
        for state in ("provisioning", "step", "analyzing"):
            dep = ledger.transition(dep, state, result={"plan": [50]})


def kill_daemon(target: str = "web") -> None:
    """SIGKILL the target's daemon and reap it; its services die with it (PR_SET_PDEATHSIG)."""
    daemon_pid = TargetClient(target).state()["pid"]
    os.kill(daemon_pid, signal.SIGKILL)
    os.waitpid(daemon_pid, 0)
