"""`shopfloor.workspace` nodes: the run works in a copy-on-write workspace, never in the project."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from shopfloor.sandbox.workspace import WorkspaceManager

PIPELINE = """\
digraph ws {{
    start [shape=Mdiamond]
    workspace [type="shopfloor.workspace", project="{project}", subdir="svc"{keep}]
    fix [label="Repair", repair.budget=40]
    exit [shape=Msquare]
    start -> workspace -> fix -> exit
}}
"""


def _git_project(root: Path) -> Path:
    svc = root / "svc"
    (svc / "tests").mkdir(parents=True)
    (svc / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    (svc / "tests" / "test_calc.py").write_text("from calc import add\n\ndef test_add():\n"
                                                "    assert add(2, 3) == 5\n")
    identity = ["-c", "user.email=t@t", "-c", "user.name=t"]
    for args in (["init", "-q"], ["add", "-A"], [*identity, "commit", "-qm", "v1"]):
        subprocess.run(["git", *args], cwd=root, check=True)
    return root


def _run(shopfloor_cmd: list[str], tmp_path: Path, project: Path, keep: str = "") -> dict:
    dot = tmp_path / "ws.dot"
    dot.write_text(PIPELINE.format(project=project, keep=keep))
    proc = subprocess.run([*shopfloor_cmd, "run", str(dot), "--backend", "repair", "--json",
                           "--logs-root", str(tmp_path / "run")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_repair_happens_in_the_workspace_and_the_project_is_untouched(shopfloor_cmd: list[str],
                                                                      tmp_path: Path) -> None:
    project = _git_project(tmp_path / "project")
    result = _run(shopfloor_cmd, tmp_path, project, keep=', keep="true"')
    workspace_dir = Path(result["context"]["workspace.dir"])
    assert workspace_dir.name == "svc" and workspace_dir != project / "svc"
    assert "a + b" in (workspace_dir / "calc.py").read_text()
    assert "a - b" in (project / "svc" / "calc.py").read_text()
    assert result["context"]["release.workspace"] == str(workspace_dir)
    kept = WorkspaceManager().get(result["context"]["workspace.name"])
    assert kept.revision == result["context"]["workspace.revision"]
    WorkspaceManager().discard(kept.name)


def test_the_workspace_is_discarded_when_the_run_ends(shopfloor_cmd: list[str], tmp_path: Path) -> None:
    project = _git_project(tmp_path / "project")
    result = _run(shopfloor_cmd, tmp_path, project)
    assert not Path(result["context"]["workspace.dir"]).exists()
    assert result["context"]["workspace.name"] not in {w.name for w in WorkspaceManager().list()}
