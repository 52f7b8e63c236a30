"""Crash safety: kill -9 `shopfloor run` at a random moment, then `shopfloor resume`.

The resumed run must reach the same outcome as an uninterrupted one, through the
same nodes, and never run a node again that had completed before the kill.
Every tool node of the fixture appends its id to trace.log in the run's
workspace (`--set workspace.dir=…`; tool nodes run sandboxed there), so a second
execution is visible in the trace file.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from shopfloor.observe.eventlog import verify
from tests.support.dotfiles import dot_path
from tests.support.pipeline_runs import REPO_ROOT, run_json

#: Kills per test run; each picks its own random moment.
TRIALS = 3
#: Time for tool commands orphaned by the kill to finish (a sandboxed one dies with its sandbox).
ORPHAN_GRACE_S = 0.5


def workspace(path: Path) -> tuple[str, Path]:
    """(the --set that makes `path` the run's workspace, the trace file the tool nodes write there)."""
    path.mkdir()
    return f"workspace.dir={path}", path / "trace.log"


def trace_lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def finished_nodes(root: Path) -> set[str]:
    """Nodes the killed run had finished: checkpointed, or with a final status.json (recoverable)."""
    done = set(json.loads((root / "checkpoint.json").read_text())["completed_nodes"])
    for status in root.glob("*/status.json"):
        try:
            record = json.loads(status.read_text())
        except json.JSONDecodeError:
            continue  # torn by the kill: the node did not finish and runs again
        if "step" in record:
            done.add(status.parent.name)
    return done


def test_kill_9_at_random_points_then_resume_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    seed = int(time.time())
    rng = random.Random(seed)
    pipeline = str(dot_path("engine_crash"))
    whole_ws, whole_trace = workspace(tmp_path / "whole-ws")
    code, whole = run_json("run", pipeline, "--logs-root", str(tmp_path / "whole"), "--set", whole_ws)
    events = [json.loads(line) for line in (tmp_path / "whole" / "events.jsonl").read_text().splitlines()]
    execution_s = events[-1]["ts"] - events[0]["ts"]
    assert code == 0 and whole["status"] == "success"
    assert Counter(trace_lines(whole_trace)) == Counter(
        ["t1", "t2", "t3", "p1", "p2", "p3", "t4", "t5", "t6"]
    )

    for trial in range(TRIALS):
        root = tmp_path / f"killed-{trial}"
        ws, trace = workspace(tmp_path / f"killed-{trial}-ws")
        proc = subprocess.Popen(
            [sys.executable, "-m", "shopfloor", "run", pipeline, "--logs-root", str(root), "--set", ws],
            cwd=REPO_ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # Kill at a random moment of the execution itself (start-up time varies with machine load).
        deadline = time.monotonic() + 30
        while not (root / "checkpoint.json").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        delay = rng.uniform(0, execution_s)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        time.sleep(ORPHAN_GRACE_S)
        context = f"seed={seed} trial={trial} delay={delay:.2f}s"
        done_at_kill = finished_nodes(root)
        trace_at_kill = trace_lines(trace)

        code, resumed = run_json("resume", "--logs-root", str(root))
        assert code == 0, context
        assert resumed["status"] == whole["status"], context
        assert resumed["completed_nodes"] == whole["completed_nodes"], context
        assert resumed["node_outcomes"] == whole["node_outcomes"], context
        after_kill = trace_lines(trace)[len(trace_at_kill) :]
        assert not done_at_kill & set(after_kill), f"{context}: re-ran {done_at_kill & set(after_kill)}"
        # A node in flight at the kill may have run to the end as an orphan and runs again on resume.
        in_flight = set(trace_at_kill) - done_at_kill
        extra = Counter(trace_lines(trace)) - Counter(trace_lines(whole_trace))
        assert set(extra) <= in_flight and all(n == 1 for n in extra.values()), context
        assert set(trace_lines(trace)) == set(trace_lines(whole_trace)), context
        assert verify(root / "events.jsonl") > 0, context
