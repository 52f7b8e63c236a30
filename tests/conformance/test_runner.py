"""`shopfloor conformance run` and `list-handlers` (CONFORMANCE.md), through bin/conformance."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from shopfloor.conformance.runner import choose_backend
from tests.support.dotfiles import dot_path
from tests.support.pipeline_runs import REPO_ROOT, shopfloor


def test_list_handlers_prints_every_built_in_type() -> None:
    proc = subprocess.run(
        [str(REPO_ROOT / "bin" / "conformance"), "list-handlers"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    types = json.loads(proc.stdout)
    assert isinstance(types, list)
    assert {
        "start",
        "exit",
        "codergen",
        "wait.human",
        "conditional",
        "parallel",
        "parallel.fan_in",
        "tool",
        "stack.manager_loop",
    } <= set(types)


def test_run_prints_status_executed_nodes_and_outcomes() -> None:
    proc = shopfloor("conformance", "run", str(dot_path("engine_human")))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["status"] == "success"
    assert result["completed_nodes"] == ["start", "review_gate", "ship_it", "done"]
    assert result["node_outcomes"]["review_gate"] == "success"


def test_run_of_a_failing_pipeline_exits_non_zero(tmp_path: Path) -> None:
    path = tmp_path / "failing.dot"
    path.write_text(
        dot_path("engine_retry").read_text().replace("sim.fail_attempts=2", "sim.fail_attempts=9")
    )
    proc = shopfloor("conformance", "run", str(path))
    assert proc.returncode == 1 and json.loads(proc.stdout)["status"] == "fail"


def test_backend_is_simulate_without_a_configured_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert choose_backend() == "simulate"
    monkeypatch.setenv("OPENAI_API_KEY", "")
    assert choose_backend() == "simulate", "an empty key counts as unset"
