"""Tool nodes in real runs execute inside bubblewrap: contained, with the tool handler's contract intact."""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from shopfloor import assembly
from shopfloor.config import ProjectFile
from shopfloor.pipeline.engine import RunResult
from shopfloor.pipeline.interviewer import AutoApproveInterviewer
from shopfloor.pipeline.prepare import prepare_pipeline
from shopfloor.pipeline.runner import start_run
from shopfloor.sandbox import registry as sandbox_registry


def tool_pipeline(command: str, **attrs: str) -> str:
    attributes = {"tool_command": command, **attrs}
    written = ", ".join(f"{key}={json.dumps(value)}" for key, value in attributes.items())
    return f"""digraph tools {{
        graph [goal="contain the tool"]
        start [shape=Mdiamond]
        done [shape=Msquare]
        tool [shape=parallelogram, {written}]
        start -> tool -> done
    }}"""


def run_tool(tmp_path: Path, command: str, *, context: dict[str, Any] | None = None,
             stop: threading.Event | None = None, config: ProjectFile | None = None,
             **attrs: str) -> RunResult:
    """Runs through the composition root, as `shopfloor run` does."""
    graph = prepare_pipeline(tool_pipeline(command, **attrs))
    factory = assembly.registry_factory("simulate")
    return start_run(graph, logs_root=tmp_path / "run", registry_factory=factory,
                     interviewer=AutoApproveInterviewer(), initial_context=context, config=config,
                     stop_event=stop)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "input.txt").write_text("from the workspace\n")
    return ws


@pytest.fixture(autouse=True)
def _no_sandbox_left_behind() -> Any:
    yield
    assert sandbox_registry.entries() == [], "every tool node's sandbox is torn down with its node"


def test_tool_runs_in_the_workspace_with_the_handler_contract(tmp_path: Path, workspace: Path) -> None:
    command = ('cat input.txt; echo "$SHOPFLOOR_NODE_ID $SHOPFLOOR_GOAL"; echo made > out.txt; '
               'mkdir -p "$SHOPFLOOR_STAGE_DIR/dist" && echo pkg > "$SHOPFLOOR_STAGE_DIR/dist/pkg.txt"; '
               'echo warn >&2')
    result = run_tool(tmp_path, command, context={"workspace.dir": str(workspace)})
    assert result.status == "success"
    assert result.context["tool.output"] == "from the workspace\ntool contain the tool\n"
    assert (workspace / "out.txt").read_text() == "made\n", "the workspace is writable"
    stage = tmp_path / "run" / "tool"
    assert (stage / "stderr.txt").read_text() == "warn\n"
    assert (stage / "dist" / "pkg.txt").read_text() == "pkg\n", "stage-dir files come back out"


def test_writes_outside_the_workspace_and_home_secrets_are_contained(
        tmp_path: Path, workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "credentials").write_text("aws_secret_access_key=TOPSECRET\n")
    monkeypatch.setenv("HOME", str(home))  # the sandbox hides `~`, whoever runs shopfloor
    outside = tmp_path / "outside"
    outside.mkdir()
    command = (f'cat {home}/.aws/credentials; echo pwned > {outside}/owned.txt; '
               'ls "$SHOPFLOOR_LOGS_ROOT"; echo forged > "$SHOPFLOOR_LOGS_ROOT/checkpoint.json"; '
               f'ln -s {home}/.aws/credentials "$SHOPFLOOR_STAGE_DIR/leak"; exit 0')
    result = run_tool(tmp_path, command, tool_cwd=str(workspace))
    assert result.status == "success"
    assert "TOPSECRET" not in result.context["tool.output"]
    assert not (outside / "owned.txt").exists()
    assert "manifest.json" in result.context["tool.output"], "the run's records are readable"
    stderr = (tmp_path / "run" / "tool" / "stderr.txt").read_text()
    assert "Read-only file system" in stderr, "… but not writable"
    assert "forged" not in (tmp_path / "run" / "checkpoint.json").read_text()
    assert not (tmp_path / "run" / "tool" / "leak").exists(), "links are not copied out of the sandbox"


def test_the_run_records_stay_read_only_inside_the_workspace(tmp_path: Path) -> None:
    """Without a workspace node the project is the workspace, and runs/ lies inside it."""
    command = 'echo kept > mine.txt; echo forged > "$SHOPFLOOR_LOGS_ROOT/checkpoint.json"'
    result = run_tool(tmp_path, command, tool_cwd=str(tmp_path))
    assert result.status == "fail" and "Read-only file system" in result.outcome.failure_reason
    assert (tmp_path / "mine.txt").read_text() == "kept\n"
    assert "forged" not in (tmp_path / "run" / "checkpoint.json").read_text()


def test_a_missing_working_directory_fails_the_node_with_its_path(tmp_path: Path) -> None:
    result = run_tool(tmp_path, "true", tool_cwd=str(tmp_path / "nowhere"))
    assert result.status == "fail"
    assert f"working directory does not exist: {tmp_path / 'nowhere'}" in result.outcome.failure_reason


def test_sandbox_false_opts_a_node_out_onto_the_host(tmp_path: Path, workspace: Path) -> None:
    outside = tmp_path / "outside.txt"
    result = run_tool(tmp_path, f"pwd; echo host > {outside}", sandbox="false",
                      context={"workspace.dir": str(workspace)})
    assert result.status == "success"
    assert result.context["tool.output"] == f"{workspace}\n", "same working-directory default as sandboxed"
    assert outside.read_text() == "host\n"


def test_non_zero_exit_fails_with_stderr(tmp_path: Path, workspace: Path) -> None:
    result = run_tool(tmp_path, "echo broken >&2; exit 3", tool_cwd=str(workspace))
    assert result.status == "fail"
    assert result.outcome.failure_reason == "tool command exited with 3: broken"


def test_timeout_kills_the_whole_tree(tmp_path: Path, workspace: Path) -> None:
    started = time.monotonic()
    command = 'echo begun > "$SHOPFLOOR_STAGE_DIR/progress.txt"; (sleep 3; touch late.txt) & sleep 30'
    result = run_tool(tmp_path, command, tool_cwd=str(workspace), timeout="1s")
    assert result.status == "fail" and "timed out after 1s" in result.outcome.failure_reason
    assert (tmp_path / "run" / "tool" / "progress.txt").read_text() == "begun\n", "partial output is kept"
    assert time.monotonic() - started < 15
    time.sleep(3.5)
    assert not (workspace / "late.txt").exists(), "the background child died with the command"


def test_stop_request_kills_the_command_and_stops_the_run(tmp_path: Path, workspace: Path) -> None:
    stop = threading.Event()
    stdout = tmp_path / "run" / "tool" / "stdout.txt"

    def stop_once_running() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (stdout.exists() and stdout.read_text()):
            time.sleep(0.05)
        stop.set()

    watcher = threading.Thread(target=stop_once_running)
    watcher.start()
    started = time.monotonic()
    result = run_tool(tmp_path, "echo running; sleep 60", tool_cwd=str(workspace), stop=stop)
    watcher.join()
    assert result.status == "stopped"
    assert time.monotonic() - started < 30


def test_sandbox_limits_come_from_the_project_config(tmp_path: Path, workspace: Path) -> None:
    toml = tmp_path / "shopfloor.toml"
    toml.write_text("[sandbox]\nmax_file_size_mb = 1\n")
    result = run_tool(tmp_path, "head -c 3000000 /dev/zero > big.bin", tool_cwd=str(workspace),
                      config=ProjectFile.load(toml))
    assert result.status == "fail"
    assert "file size limit of 1 MiB exceeded" in result.outcome.failure_reason


def test_python_is_the_interpreter_running_shopfloor(tmp_path: Path, workspace: Path) -> None:
    result = run_tool(tmp_path, 'python -c "import sys, pytest; print(sys.prefix)"', tool_cwd=str(workspace))
    assert result.status == "success", result.outcome.failure_reason
    assert result.context["tool.output"] == f"{sys.prefix}\n"
