"""The run registry: a real SQLite ledger under SHOPFLOOR_HOME."""

from __future__ import annotations

import os
import subprocess
import sys

from shopfloor.observe.runs import RunRegistry


def test_register_finish_and_find_live_runs() -> None:
    runs = RunRegistry()
    runs.register("r1", "a.dot", "/runs/r1", os.getpid())
    runs.register("r2", "b.dot", "/runs/r2", os.getpid())
    runs.finish("r1", "success")
    assert [r.run_id for r in runs.live()] == ["r2"]
    done = runs.get("r1")
    assert done is not None and done.status == "success" and done.ended_at is not None
    assert runs.get("missing") is None


def test_resuming_re_registers_under_the_new_pid_and_state_survives_reopening() -> None:
    runs = RunRegistry()
    runs.register("r1", "a.dot", "/runs/r1", 111)
    runs.finish("r1", "stopped")
    runs.register("r1", "a.dot", "/runs/r1", 333)
    runs.close()
    record = RunRegistry().get("r1")
    assert record is not None and (record.pid, record.status, record.ended_at) == (333, "running", None)
    assert [r.run_id for r in RunRegistry().list()] == ["r1"]


def test_a_run_whose_process_died_is_not_live() -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    runs = RunRegistry()
    runs.register("crashed", "a.dot", "/runs/crashed", int(dead.stdout))
    runs.register("alive", "a.dot", "/runs/alive", os.getpid())
    assert [r.run_id for r in runs.live()] == ["alive"]
    assert {r.run_id for r in runs.list("running")} == {"crashed", "alive"}
