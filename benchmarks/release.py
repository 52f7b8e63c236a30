"""Release speed on the local target: deploy latency, time to restore, and proxy overhead.

    .venv/bin/python benchmarks/release.py

A tiny http.server service (the same one the tests deploy) is released to a
local target in a throwaway SHOPFLOOR_HOME. Measured, each beside a baseline
taken in the same run:

- deploy latency: `Releaser.deploy` of a new release over a running one
  (blue/green, no analysis: ledger transitions + working copy + start + health
  check + promotion), beside the service's bare start (spawn + health 200);
- time to restore: a canary returning 500s under steady traffic; from the failing
  analysis measurement until all traffic is on stable, beside the bare start
  (what restoring by restarting the good release would cost at best);
- proxy overhead: median GET through the proxy beside the same GET direct.
"""

from __future__ import annotations

import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

DEPLOYS = 5
RESTORES = 3
BARE_STARTS = 5
PROXY_REQUESTS = 300


def bare_start(service: Path, command: str) -> float:
    """Spawn the service and wait for its health check: the floor any deploy must pay."""
    from shopfloor.release.supervisor import free_port

    port = free_port()
    started = time.perf_counter()
    proc = subprocess.Popen(shlex.split(command), cwd=service, env={**os.environ, "PORT": str(port)})
    try:
        with httpx.Client(timeout=1) as client:
            while True:
                try:
                    if client.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                        return time.perf_counter() - started
                except httpx.HTTPError:
                    time.sleep(0.005)
    finally:
        proc.terminate()
        proc.wait()


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="shopfloor-bench-release-"))
    os.environ["SHOPFLOOR_HOME"] = str(home / "state")
    os.environ.pop("START_LOG", None)
    project = home / "project"
    project.mkdir()
    os.chdir(project)

    from tests.support.release import ERROR_RATE_METRIC, Traffic, make_service, target_toml

    from shopfloor.config import ProjectFile
    from shopfloor.release.deploy import Releaser
    from shopfloor.release.ledger import Ledger
    from shopfloor.release.releases import create_release
    from shopfloor.release.target_client import TargetClient

    def release(version: str, mode: str = "ok") -> str:
        with Ledger() as ledger:
            return create_release(make_service(home / version, version, mode), ProjectFile.load(),
                                  ledger=ledger)[0].digest

    command = f"{sys.executable} app.py"
    try:
        # -- deploy latency (blue/green, no analysis) ------------------------------------
        (project / "shopfloor.toml").write_text(target_toml("bg", strategy="bluegreen"))
        releaser = Releaser(ProjectFile.load())
        releaser.deploy(release("v0"), "bg", "warm")  # starts the target daemon once
        bare = [bare_start(home / "v0", command) for _ in range(BARE_STARTS)]
        deploys = []
        for i in range(1, DEPLOYS + 1):
            digest = release(f"v{i}")
            started = time.perf_counter()
            result = releaser.deploy(digest, "bg", f"d{i}")
            deploys.append(time.perf_counter() - started)
            assert result["state"] == "succeeded", result

        # -- proxy overhead ---------------------------------------------------------------
        state = TargetClient("bg").state()
        proxy_port, direct_port = state["proxy_port"], state["backends"]["stable"]["port"]

        timings: dict[int, list[float]] = {direct_port: [], proxy_port: []}
        with httpx.Client() as client:
            for _ in range(PROXY_REQUESTS):  # interleaved, so both see the same machine load
                for port in (direct_port, proxy_port):
                    t = time.perf_counter()
                    client.get(f"http://127.0.0.1:{port}/")
                    timings[port].append(time.perf_counter() - t)
        direct, proxied = (statistics.median(timings[p]) for p in (direct_port, proxy_port))
        TargetClient("bg").stop()

        # -- time to restore -------------------------------------------------------------
        (project / "shopfloor.toml").write_text(target_toml("canary", steps="[20]", interval_s=0.3, count=3,
                                                            metrics=ERROR_RATE_METRIC))
        releaser = Releaser(ProjectFile.load())
        port = releaser.deploy(release("good"), "canary", "good")["proxy_port"]
        restores = []
        with Traffic(port, pause_s=0.002):
            for i in range(RESTORES):
                result = releaser.deploy(release(f"bad{i}", "fail500"), "canary", f"bad{i}")
                assert result["state"] == "rolled_back", result
                restores.append(result["restore_s"])
        TargetClient("canary").stop()
    finally:
        for name in ("bg", "canary"):
            TargetClient(name).stop()

    base = statistics.median(bare)
    print(f"release benchmark (medians; {BARE_STARTS} bare starts, {DEPLOYS} deploys, {RESTORES} restores)")
    print(f"  bare service start (spawn → health 200): {base * 1000:8.1f} ms   (baseline)")
    print(f"  deploy latency (blue/green, no analysis): {statistics.median(deploys) * 1000:8.1f} ms   "
          f"ratio {statistics.median(deploys) / base:5.2f}x bare start")
    restore = statistics.median(restores)
    print(f"  time to restore (failed measurement → all traffic on stable): "
          f"{restore * 1000:8.1f} ms   ratio {restore / base:5.2f}x bare start")
    print(f"  GET direct: {direct * 1000:6.2f} ms   through proxy: {proxied * 1000:6.2f} ms   "
          f"ratio {proxied / direct:5.2f}x")


if __name__ == "__main__":
    main()
