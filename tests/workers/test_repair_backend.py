"""The repair backend driven the way a user drives it: `shopfloor run --backend repair`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from shopfloor.observe.eventlog import read_events, verify

PIPELINE = """\
digraph fix_it {{
    goal = "make the visible tests pass"
    start [shape=Mdiamond]
    fix   [label="Repair the code", repair.workspace="{workspace}", repair.budget={budget}]
    exit  [shape=Msquare]
    start -> fix -> exit
}}
"""


def _project(root: Path, body: str) -> Path:
    (root / "tests").mkdir(parents=True)
    (root / "calc.py").write_text(body)
    (root / "tests" / "test_calc.py").write_text(
        "from calc import add\n\ndef test_add():\n    assert add(2, 3) == 5\n\n"
        "def test_add_negative():\n    assert add(-1, -1) == -2\n")
    return root


def _run(shopfloor_cmd: list[str], tmp_path: Path, workspace: Path, budget: int) -> tuple[int, dict]:
    dot = tmp_path / "fix.dot"
    dot.write_text(PIPELINE.format(workspace=workspace, budget=budget))
    proc = subprocess.run([*shopfloor_cmd, "run", str(dot), "--backend", "repair", "--json",
                           "--logs-root", str(tmp_path / "run")], capture_output=True, text=True, timeout=300)
    return proc.returncode, json.loads(proc.stdout)


def test_repair_backend_fixes_the_workspace_and_records_the_patch(shopfloor_cmd: list[str],
                                                                  tmp_path: Path) -> None:
    workspace = _project(tmp_path / "proj", "def add(a, b):\n    return a - b\n")
    code, result = _run(shopfloor_cmd, tmp_path, workspace, budget=50)
    assert code == 0, result
    assert result["node_outcomes"]["fix"] == "success"
    assert result["context"]["tests.visible.passed"] == 2
    assert (workspace / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"
    stage = Path(result["logs_root"]) / "fix"
    assert "+    return a + b" in (stage / "repair.patch").read_text()
    assert json.loads((stage / "repair.json").read_text())["repaired"] is True
    events = Path(result["logs_root"]) / "events.jsonl"
    verify(events)
    assert "repair.edit_accepted" in [e.kind for e in read_events(events)]


def test_unrepairable_code_fails_the_node_and_leaves_the_workspace_alone(shopfloor_cmd: list[str],
                                                                         tmp_path: Path) -> None:
    body = "def add(a, b):\n    return str(a) + str(b)\n"
    workspace = _project(tmp_path / "proj", body)
    code, result = _run(shopfloor_cmd, tmp_path, workspace, budget=4)
    assert code == 1
    assert result["status"] == "fail"
    assert result["node_outcomes"]["fix"] == "fail"
    assert (workspace / "calc.py").read_text() == body
