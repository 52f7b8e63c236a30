"""Sandbox overhead and workspace creation speed, each beside its baseline in the same run.

- p50 / p95 wall time of `true` and `python3 -c pass` run in a warm sandbox
  (the environment an agent session holds), beside the same commands as bare
  subprocesses; target: sandboxed `true` within 5x of bare.
- the same for a cold sandbox (a new environment per command, as
  `shopfloor sandbox exec` does), for reference.
- creating a workspace of a generated 10,000-file git repository, beside
  `cp -r` of the same tree; target: at least 10x faster. The first workspace of
  a revision also builds its shared snapshot, so it is reported separately.

Usage: .venv/bin/python benchmarks/sandbox.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

#: Files in the generated repository.
REPO_FILES = 10_000
#: Files per directory in the generated repository.
FILES_PER_DIR = 100
#: Samples per command; workspace and cold-sandbox samples are fewer (they are slower).
DEFAULT_RUNS = 30


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def row(label: str, ours: list[float], base: list[float], target: str = "") -> None:
    p50, p95, b50, b95 = (percentile(ours, 0.5), percentile(ours, 0.95),
                          percentile(base, 0.5), percentile(base, 0.95))
    print(f"{label:<34} {p50:8.2f} {p95:8.2f} {b50:8.2f} {b95:8.2f} {p50 / b50:7.1f}x  {target}")


def bench_commands(workspace: Path, runs: int) -> None:
    from shopfloor.sandbox.bwrap import SandboxedExecutionEnvironment

    print(f"{'command (ms)':<34} {'p50':>8} {'p95':>8} {'bare p50':>8} {'bare p95':>8} {'ratio':>8}")
    # The same interpreter on both sides (a PATH lookup could find different pythons).
    commands = {"true": ["true"], "python3 -c pass": [sys.executable, "-c", "pass"]}
    with SandboxedExecutionEnvironment(workspace) as env:
        for label, argv in commands.items():
            for _ in range(3):  # warm up caches on both sides
                env.run(argv)
                subprocess.run(argv, check=True)
            sandboxed = timed(lambda a=argv: env.run(a), runs)
            bare = timed(lambda a=argv: subprocess.run(a, check=True), runs)
            row(f"{label} (warm sandbox)", sandboxed, bare, "target <= 5x" if label == "true" else "")

    def cold() -> None:
        with SandboxedExecutionEnvironment(workspace) as env:
            env.run(["true"])
    cold_runs = max(5, runs // 8)
    row("true (new sandbox per command)", timed(cold, cold_runs),
        timed(lambda: subprocess.run(["true"], check=True), cold_runs))


def generate_repository(path: Path) -> None:
    path.mkdir()
    for i in range(REPO_FILES):
        directory = path / f"pkg{i // FILES_PER_DIR:03d}"
        directory.mkdir(exist_ok=True)
        (directory / f"module{i:05d}.py").write_text(f"VALUE_{i} = {i}\n")
    # gc.auto=0: 10,000 loose objects would start a background `git gc` that races `cp -r`.
    git = ["git", "-c", "user.email=bench@example.com", "-c", "user.name=bench", "-c", "gc.auto=0"]
    subprocess.run([*git, "init", "-q"], cwd=path, check=True)
    subprocess.run([*git, "add", "."], cwd=path, check=True)
    subprocess.run([*git, "commit", "-qm", "generated"], cwd=path, check=True)


def bench_workspaces(tmp: Path, runs: int) -> None:
    from shopfloor.sandbox.workspace import WorkspaceManager

    project = tmp / "project"
    generate_repository(project)
    copies = tmp / "copies"
    copies.mkdir()
    counter = iter(range(10**6))

    def copy() -> None:
        subprocess.run(["cp", "-r", str(project), str(copies / str(next(counter)))], check=True)

    manager = WorkspaceManager(tmp / "state")
    created = []
    try:
        start = time.perf_counter()
        created.append(manager.create(project))
        first = (time.perf_counter() - start) * 1000
        ws_runs = max(5, runs // 8)
        warm = timed(lambda: created.append(manager.create(project)), ws_runs)
        cp = timed(copy, 2)
        print(f"\n{'workspace, 10,000 files (ms)':<34} {'p50':>8} {'p95':>8} {'cp p50':>8} {'cp p95':>8}"
              f" {'speed-up':>8}")
        p50, cp50 = percentile(warm, 0.5), percentile(cp, 0.5)
        print(f"{'create (' + created[-1].strategy + ')':<34} {p50:8.2f} {percentile(warm, 0.95):8.2f} "
              f"{cp50:8.2f} {percentile(cp, 0.95):8.2f} {cp50 / p50:7.1f}x  target >= 10x")
        print(f"{'first of a revision (+ snapshot)':<34} {first:8.2f} {'':>8} {cp50:8.2f} {'':>8} "
              f"{cp50 / first:7.1f}x  (once per commit)")
    finally:
        for workspace in created:
            manager.discard(workspace.name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS,
                        help=f"samples per command (default {DEFAULT_RUNS})")
    args = parser.parse_args()
    # Ratios on a shared host swing with its load; print it so a reader can judge the figures.
    one, five, fifteen = os.getloadavg()
    print(f"load average (1, 5, 15 min): {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="shopfloor-bench-") as tmp_name:
        tmp = Path(tmp_name)
        os.environ["SHOPFLOOR_HOME"] = str(tmp / "home")
        workspace = tmp / "workspace"
        workspace.mkdir()
        bench_commands(workspace, args.runs)
        bench_workspaces(tmp, args.runs)
        shutil.rmtree(tmp / "copies", ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
