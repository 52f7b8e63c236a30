"""`shopfloor init`: a new factory project that runs as is, offline, and never overwrites."""

from __future__ import annotations

import json
import re
import subprocess
import tarfile
import tomllib
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from shopfloor.commands.init import create_project
from shopfloor.commands.init_scaffold import FILES, SHOPFLOOR_TOML
from shopfloor.config import ProjectFile
from shopfloor.errors import UserError
from shopfloor.govern.policy import BudgetsConfig, PolicySection
from shopfloor.sandbox.policy import SandboxPolicy
from shopfloor.validate.config import ValidateConfig
from shopfloor.validate.suite import load_suite
from shopfloor.workers.repair.backend import RepairSettings

CLI_TIMEOUT_S = 120
SECTION_MODELS: dict[str, type[BaseModel]] = {
    "policy": PolicySection, "budgets": BudgetsConfig, "sandbox": SandboxPolicy, "repair": RepairSettings,
    "validate": ValidateConfig,
}


def shopfloor(cmd: list[str], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*cmd, *args], cwd=cwd, capture_output=True, text=True, timeout=CLI_TIMEOUT_S)


def git(project: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=project, capture_output=True, text=True, check=True).stdout


def test_the_new_project_runs_offline_end_to_end(shopfloor_cmd: list[str], tmp_path: Path) -> None:
    created = shopfloor(shopfloor_cmd, "init", "factory", "--json", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    result = json.loads(created.stdout)
    project = tmp_path / "factory"
    assert sorted(result["created"]) == sorted(FILES) and result["commit"]
    assert git(project, "log", "--format=%H").split() == [result["commit"]]

    ran = shopfloor(shopfloor_cmd, "run", "factory.dot", "--backend", "repair", "--json", cwd=project)
    assert ran.returncode == 0, ran.stderr
    summary = json.loads(ran.stdout)
    assert summary["status"] == "success"
    logs_root = project / summary["logs_root"]
    completed = json.loads((logs_root / "checkpoint.json").read_text())["completed_nodes"]
    main_line = ["workspace", "implement", "visible_tests", "scenarios", "package"]
    assert [n for n in completed if n in main_line] == main_line
    with tarfile.open(logs_root / "package" / "service.tar.gz") as tar:
        assert "./greeter/__init__.py" in tar.getnames(), "the tool node packaged the workspace"
    assert git(project, "status", "--porcelain") == "", "a run leaves the checkout clean"
    assert "greets-by-name" in (logs_root / "scenarios" / "report.md").read_text()

    judged = shopfloor(shopfloor_cmd, "scenarios", "run", "scenarios", "--target-dir", "service", "--json",
                       cwd=project)
    assert judged.returncode == 0, judged.stdout + judged.stderr


def test_the_factory_repairs_a_committed_bug_offline(shopfloor_cmd: list[str], tmp_path: Path) -> None:
    project = Path(create_project(tmp_path / "factory").directory)
    service = project / "service" / "greeter" / "__init__.py"
    service.write_text(service.read_text().replace("name or DEFAULT_NAME", "name and DEFAULT_NAME"))
    git(project, "commit", "-q", "-a", "-m", "a bug", "--no-verify")
    ran = shopfloor(shopfloor_cmd, "run", "factory.dot", "--backend", "repair", "--json", cwd=project)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    logs_root = project / json.loads(ran.stdout)["logs_root"]
    patch = (logs_root / "implement" / "repair.patch").read_text()
    assert '+    return f"Hello, {name or DEFAULT_NAME}!"' in patch
    with tarfile.open(logs_root / "package" / "service.tar.gz") as tar:
        member = tar.extractfile("./greeter/__init__.py")
        assert member is not None and b"name or DEFAULT_NAME" in member.read(), "the repaired code shipped"
    assert "name and DEFAULT_NAME" in service.read_text(), "the checkout itself is untouched"


def test_init_refuses_to_overwrite_and_writes_nothing(shopfloor_cmd: list[str], tmp_path: Path) -> None:
    project = tmp_path / "existing"
    project.mkdir()
    (project / "factory.dot").write_text("digraph mine {}\n")
    refused = shopfloor(shopfloor_cmd, "init", str(project), cwd=tmp_path)
    assert refused.returncode == 2
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "refusing to overwrite an existing file" in lines[0]
    assert str(project / "factory.dot") in lines[0]
    assert (project / "factory.dot").read_text() == "digraph mine {}\n"
    assert sorted(p.name for p in project.iterdir()) == ["factory.dot"], "nothing else was written"


def test_an_interrupted_init_completes_when_run_again(tmp_path: Path) -> None:
    project = tmp_path / "half"
    (project / "spec").mkdir(parents=True)
    (project / "shopfloor.toml").write_text(FILES["shopfloor.toml"])
    (project / "spec" / "service-spec.md").write_text(FILES["spec/service-spec.md"])
    result = create_project(project)
    assert sorted(result.unchanged) == ["shopfloor.toml", "spec/service-spec.md"]
    assert len(result.created) == len(FILES) - 2 and result.commit
    again = create_project(project)
    assert again.created == [] and again.commit == "", "nothing left to write or commit"


def _commented_defaults(toml_text: str) -> dict[str, dict[str, Any]]:
    """{section: {key: value}} for each `# key = value` line (examples after `# [[...]]` excluded)."""
    found: dict[str, dict[str, Any]] = {}
    section = None
    for line in toml_text.splitlines():
        if header := re.fullmatch(r"\[(\w+)\]", line):
            section = header.group(1)
            found[section] = {}
        elif line.startswith("# [["):
            section = None
        elif section and (pair := re.fullmatch(r"# (\w+) = (.+)", line)):
            found[section].update(tomllib.loads(f"{pair.group(1)} = {pair.group(2)}"))
    return found


def test_the_commented_settings_are_the_real_defaults(tmp_path: Path) -> None:
    toml = tmp_path / "shopfloor.toml"
    toml.write_text(SHOPFLOOR_TOML)
    project = ProjectFile.load(toml)
    defaults = _commented_defaults(SHOPFLOOR_TOML)
    assert set(defaults) == set(SECTION_MODELS)
    for name, model in SECTION_MODELS.items():
        project.section(name, model)  # every active setting is valid
        pristine = model()
        for key, value in defaults[name].items():
            assert getattr(pristine, key) == value, f"[{name}] {key}: the comment says {value!r}"
    assert sum(len(d) for d in defaults.values()) >= 20


def test_the_sample_scenario_is_in_the_suite_format(tmp_path: Path) -> None:
    create_project(tmp_path / "p")
    suite = load_suite(tmp_path / "p" / "scenarios")
    assert [s.id for s in suite.scenarios] == ["greets-by-name"]


def test_init_into_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(UserError, match="not a directory"):
        create_project(tmp_path / "a-file")
