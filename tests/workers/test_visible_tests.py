"""`shopfloor.tests` nodes: visible test counts in the context, and a brake on the retry loop."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from shopfloor.govern.brake.config import DEFAULT_PLATEAU_RUNS

LOOP = Path(__file__).parent / "dot" / "visible_tests_loop.dot"


def _project(root: Path, body: str) -> Path:
    (root / "tests").mkdir(parents=True)
    (root / "calc.py").write_text(body)
    (root / "tests" / "test_calc.py").write_text(
        "from calc import add\n\ndef test_add():\n    assert add(2, 3) == 5\n\n"
        "def test_zero():\n    assert add(0, 0) == 0\n")
    return root


def _run(shopfloor_cmd: list[str], tmp_path: Path, project: Path) -> tuple[int, dict]:
    dot = tmp_path / "loop.dot"
    dot.write_text(LOOP.read_text().replace("PROJECT", str(project)))
    proc = subprocess.run([*shopfloor_cmd, "run", str(dot), "--json", "--logs-root", str(tmp_path / "run")],
                          capture_output=True, text=True, timeout=300)
    return proc.returncode, json.loads(proc.stdout)


def test_passing_tests_report_their_counts(shopfloor_cmd: list[str], tmp_path: Path) -> None:
    good = _project(tmp_path / "p", "def add(a, b):\n    return a + b\n")
    code, result = _run(shopfloor_cmd, tmp_path, good)
    assert code == 0
    ctx = result["context"]
    assert (ctx["tests.visible.passed"], ctx["tests.visible.total"], ctx["tests.visible.rate"]) == (2, 2, 1.0)
    assert result["completed_nodes"].count("tests") == 1


def test_the_brake_stops_a_loop_that_makes_no_progress(shopfloor_cmd: list[str], tmp_path: Path) -> None:
    stuck = _project(tmp_path / "p", "def add(a, b):\n    return a - b\n")
    _, result = _run(shopfloor_cmd, tmp_path, stuck)
    ctx = result["context"]
    assert ctx["tests.visible.plateau"] is True
    assert ctx["tests.visible.failing"] == ["tests.test_calc.test_add"]
    # the first run sets the best; the brake fires after that many runs without improvement
    assert result["completed_nodes"].count("tests") == DEFAULT_PLATEAU_RUNS + 1
    assert "halted" in result["completed_nodes"]
    events = (Path(result["logs_root"]) / "events.jsonl").read_text()
    assert '"kind":"brake.plateau"' in events
