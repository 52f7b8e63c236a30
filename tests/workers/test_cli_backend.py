"""The `cli` codergen backend runs a real (fake) agent CLI as a subprocess, in the sandbox by default."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from shopfloor.config import ProjectFile
from shopfloor.errors import UserError
from shopfloor.pipeline.context import Context
from shopfloor.pipeline.graph import Duration, Node
from shopfloor.pipeline.outcome import Outcome, StageStatus
from shopfloor.pipeline.scope import RunScope
from shopfloor.workers.cli import create_backend

FAKE_CLI = """#!/bin/bash
# A stand-in agent CLI: records its argv, edits the workspace, answers on stdout.
printf '%s\\n' "$@" > argv.txt
case "$*" in
  *FAIL*) echo "model refused" >&2; exit 3 ;;
  *SLEEP*) sleep 30 ;;
esac
echo "edited by $(basename "$0")" > edited.txt
echo "All done: $2"
"""


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    (work / "bin").mkdir(parents=True)
    for name in ("claude", "codex", "gemini", "aider"):
        script = work / "bin" / name
        script.write_text(FAKE_CLI)
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return work


@pytest.fixture
def scope(tmp_path: Path) -> Any:
    events: list[tuple[str, dict[str, Any]]] = []
    run_scope = RunScope(
        "run1", tmp_path / "logs", ProjectFile(None, {}), None, lambda kind, data: events.append((kind, data))
    )
    run_scope.events = events  # type: ignore[attr-defined]
    yield run_scope
    run_scope.resources.close()


def backend(scope: RunScope, workspace: Path, **options: Any) -> Any:
    path = f"{workspace}/bin:{os.environ['PATH']}"
    return create_backend(scope, {"workspace": str(workspace), "env": {"PATH": path}, **options})


@pytest.mark.parametrize("environment", ["sandbox", "local"])
def test_runs_the_cli_with_the_prompt_and_returns_stdout(
    scope: Any, workspace: Path, environment: str
) -> None:
    node = Node("impl", {"agent_cli": "claude", "llm_model": "claude-opus-4-6"})
    response = backend(scope, workspace, environment=environment).run(node, "Write hello.py", Context())
    assert response == "All done: Write hello.py\n"
    argv = (workspace / "argv.txt").read_text().splitlines()
    assert argv[:2] == ["-p", "Write hello.py"] and argv[-2:] == ["--model", "claude-opus-4-6"]
    assert (workspace / "edited.txt").read_text() == "edited by claude\n"
    assert [kind for kind, _ in scope.events] == ["agent.cli.start", "agent.cli.end"]


@pytest.mark.parametrize(
    "cli, first_args", [("codex", ["exec"]), ("gemini", ["--yolo", "-p"]), ("aider", ["--yes-always"])]
)
def test_each_cli_gets_its_non_interactive_flags(
    scope: Any, workspace: Path, cli: str, first_args: list[str]
) -> None:
    backend(scope, workspace, cli=cli).run(Node("n"), "task", Context())
    argv = (workspace / "argv.txt").read_text().splitlines()
    assert argv[: len(first_args)] == first_args and "task" in argv
    assert (workspace / "edited.txt").read_text() == f"edited by {cli}\n"


def test_a_failing_cli_fails_the_node_with_its_stderr(scope: Any, workspace: Path) -> None:
    outcome = backend(scope, workspace).run(Node("n"), "please FAIL", Context())
    assert isinstance(outcome, Outcome) and outcome.status == StageStatus.FAIL
    assert outcome.failure_reason == "claude exited 3: model refused"


def test_the_node_timeout_kills_the_cli(scope: Any, workspace: Path) -> None:
    outcome = backend(scope, workspace).run(Node("n", {"timeout": Duration("1s")}), "SLEEP", Context())
    assert isinstance(outcome, Outcome) and outcome.status == StageStatus.FAIL
    assert outcome.failure_reason == "claude timed out after 1s"


def test_unknown_cli_is_a_user_error(scope: Any, workspace: Path) -> None:
    with pytest.raises(UserError, match="unknown agent CLI 'vim'"):
        backend(scope, workspace).run(Node("n", {"agent_cli": "vim"}), "x", Context())


def test_a_prompt_too_long_for_a_command_line_fails_clearly(scope: Any, workspace: Path) -> None:
    outcome = backend(scope, workspace).run(Node("n"), "x" * 200_000, Context())
    assert isinstance(outcome, Outcome) and outcome.status == StageStatus.FAIL
    assert outcome.failure_reason.startswith("the prompt is 200000 bytes; an agent CLI takes at most")
