"""Scenario runner throughput: 20 scenarios x 5 trajectories, in parallel within the CPU bound,
beside the same suite run sequentially (one trajectory at a time), measured in the same run.

    .venv/bin/python benchmarks/scenarios.py [--scenarios 20] [--trajectories 5] [--parallel N]

Every trajectory is the real thing: a fresh Slack twin, a fresh bubblewrap
sandbox running the candidate service (a small stdlib HTTP service that posts
to Slack), the inbound tunnel, one HTTP step and one journal expectation.
Printed: trajectories per minute for each mode and the parallel/sequential ratio.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import yaml

from shopfloor.validate.runner import DEFAULT_PARALLELISM, RunOptions, run_scenarios
from shopfloor.validate.suite import load_suite

# Standard library only, and light imports (http.client, not urllib.request): what is measured is
# the runner's cost per trajectory, not the candidate's start-up.
SERVICE = """
import http.client, json, os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SLACK = os.environ["SLACK_URL"].removeprefix("http://")


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        slack = http.client.HTTPConnection(SLACK, timeout=5)
        slack.request("POST", "/api/chat.postMessage", body=body, headers={
            "Authorization": "Bearer xoxb-shopfloor-twin", "Content-Type": "application/json"})
        answer = slack.getresponse().read()
        self.send_response(200); self.send_header("Content-Length", str(len(answer))); self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"""


def build(root: Path, scenarios: int, trajectories: int) -> tuple[Path, Path]:
    candidate = root / "candidate"
    candidate.mkdir()
    (candidate / "app.py").write_text(SERVICE)
    sealed = root / "sealed"
    sealed.mkdir()
    command = f"{sys.executable} app.py"
    suite = {"twins": ["slack"], "trajectories": trajectories,
             "candidate": {"command": command, "env": {"SLACK_URL": "{{twins.slack.url}}"}}}
    (sealed / "suite.yaml").write_text(yaml.safe_dump(suite))
    for n in range(scenarios):
        scenario = {
            "id": f"post-{n:02d}",
            "title": f"message {n} reaches #general",
            "steps": [{"http": {"method": "POST", "path": "/post",
                                "json": {"channel": "general", "text": f"release {n} is out"}},
                       "expect": {"status": 200, "json": {"ok": True}}}],
            "expect": [{"journal": {"twin": "slack", "path": "/api/chat.postMessage",
                                    "where": {"text": f"release {n} is out"}, "count": 1}}],
        }
        (sealed / f"post-{n:02d}.yaml").write_text(yaml.safe_dump(scenario))
    return candidate, sealed


def measure(sealed: Path, candidate: Path, parallel: int) -> tuple[float, int, int]:
    suite = load_suite(sealed)
    started = time.perf_counter()
    report = run_scenarios(suite, RunOptions(target_dir=candidate, parallel=parallel))
    return time.perf_counter() - started, report.satisfied, report.total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=20)
    parser.add_argument("--trajectories", type=int, default=5)
    parser.add_argument("--parallel", type=int, default=DEFAULT_PARALLELISM)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="shopfloor-bench-scenarios-") as tmp:
        os.environ.setdefault("SHOPFLOOR_HOME", str(Path(tmp) / "home"))
        candidate, sealed = build(Path(tmp), args.scenarios, args.trajectories)
        par_s, par_ok, total = measure(sealed, candidate, args.parallel)
        seq_s, seq_ok, _ = measure(sealed, candidate, 1)
    par_rate, seq_rate = total / par_s * 60, total / seq_s * 60
    print(f"{args.scenarios} scenarios x {args.trajectories} trajectories = {total} trajectories "
          f"on {os.cpu_count()} CPUs")
    print(f"parallel ({args.parallel} at once): {par_s:6.1f} s  {par_rate:7.1f} trajectories/min  "
          f"({par_ok}/{total} satisfied)")
    print(f"sequential (baseline):   {seq_s:6.1f} s  {seq_rate:7.1f} trajectories/min  "
          f"({seq_ok}/{total} satisfied)")
    print(f"ratio parallel/sequential: {par_rate / seq_rate:.2f}x")


if __name__ == "__main__":
    main()
