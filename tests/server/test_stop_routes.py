"""POST /stop over real HTTP: a run hosted by `shopfloor serve` stops within a second, and resumes."""

from __future__ import annotations

import subprocess
import time

import httpx

from tests.support.dotfiles import dot_source
from tests.support.server import ServedShopfloor, served  # noqa: F401  (fixture)


def _current(client: httpx.Client, run_id: str) -> str:
    return str(client.get(f"/status/{run_id}").json().get("current_node"))


def test_stop_route_stops_a_served_run(served: ServedShopfloor, shopfloor_cmd: list[str]) -> None:  # noqa: F811
    with httpx.Client(base_url=served.url, timeout=30) as client:
        started = client.post("/run", content=dot_source("slow"), headers={"content-type": "text/plain"})
        run_id = started.json()["id"]
        deadline = time.monotonic() + 30
        while _current(client, run_id) != "slow" and time.monotonic() < deadline:
            time.sleep(0.05)
        stopped = client.post(f"/stop/{run_id}")
        assert stopped.status_code == 200, stopped.text
        result = stopped.json()["results"][0]
        assert result["outcome"] == "stopped" and result["elapsed_s"] < 1.0, result
        assert client.get(f"/status/{run_id}").json()["status"] == "stopped"
        assert client.post("/stop/nope").status_code == 404
        assert client.post("/stop").json() == {"results": []}
    logs_root = str(served.runs_dir / run_id)
    resumed = subprocess.run([*shopfloor_cmd, "resume", "--logs-root", logs_root, "--json", "--auto-approve"],
                             capture_output=True, text=True, timeout=90)
    assert resumed.returncode == 0, resumed.stderr
