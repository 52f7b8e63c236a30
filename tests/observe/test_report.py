"""`shopfloor report` on a real run of the bundled pipeline."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.conftest import REPO_ROOT

EXAMPLE = REPO_ROOT / "examples" / "pipeline" / "release_train.dot"


def test_report_holds_graph_outcomes_figures_and_timeline(shopfloor_cmd: list[str], tmp_path: Path) -> None:
    logs = tmp_path / "run"
    run = subprocess.run([*shopfloor_cmd, "run", str(EXAMPLE), "--auto-approve", "--logs-root", str(logs)],
                         capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr
    proc = subprocess.run([*shopfloor_cmd, "report", "--logs-root", str(logs), "--json"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["status"] == "success"
    assert summary["outcomes"]["exit"] == "success"
    kinds = [(t["kind"], t["name"]) for t in summary["timeline"]]
    assert ("StageRetrying", "implement") in kinds  # the example's scripted retry is on the timeline
    page = Path(summary["report"]).read_text()
    assert "<svg" in page and "implement" in page and "Timeline" in page


def test_report_on_a_directory_that_is_not_a_run_is_one_line(shopfloor_cmd: list[str],
                                                             tmp_path: Path) -> None:
    proc = subprocess.run([*shopfloor_cmd, "report", "--logs-root", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "not a run directory" in proc.stderr
    assert "Traceback" not in proc.stderr
