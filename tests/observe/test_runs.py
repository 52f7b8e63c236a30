"""The run registry: a real SQLite ledger under SHOPFLOOR_HOME."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from shopfloor.observe.runs import RunRegistry, registered_run


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


def test_registered_run_is_running_during_the_action_and_ends_with_its_status(tmp_path: Path) -> None:
    def action() -> SimpleNamespace:
        during = RunRegistry().get("r1")
        assert during is not None and (during.status, during.pid) == ("running", os.getpid())
        return SimpleNamespace(status="stopped")

    assert registered_run("r1", "a.dot", tmp_path, action).status == "stopped"
    record = RunRegistry().get("r1")
    assert record is not None and record.status == "stopped" and record.logs_root == str(tmp_path.resolve())


def test_registered_run_that_raises_is_recorded_as_error(tmp_path: Path) -> None:
    def action() -> SimpleNamespace:
        raise RuntimeError("handler crashed")

    with pytest.raises(RuntimeError):
        registered_run("r1", "a.dot", tmp_path, action)
    record = RunRegistry().get("r1")
    assert record is not None and record.status == "error" and record.ended_at is not None
