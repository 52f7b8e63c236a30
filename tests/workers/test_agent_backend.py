"""The `agent` codergen backend: a real Session per node, in the sandbox, against the scripted server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shopfloor.config import ProjectFile
from shopfloor.errors import UserError
from shopfloor.pipeline.context import Context
from shopfloor.pipeline.executor import RunStopped
from shopfloor.pipeline.graph import Node
from shopfloor.pipeline.outcome import Outcome, StageStatus
from shopfloor.pipeline.scope import RunScope
from shopfloor.workers.agent import create_backend
from tests.support.llm_server import Reply, ScriptedLLMServer, ToolUse, llm_env, llm_server  # noqa: F401


@pytest.fixture
def server(llm_env: ScriptedLLMServer) -> ScriptedLLMServer:  # noqa: F811
    """The scripted server, with every provider's *_API_KEY/*_BASE_URL pointing at it."""
    return llm_env


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    work = tmp_path / "project"
    work.mkdir()
    (work / "app.py").write_text("def greet():\n    return 'hi'\n")
    return work


@pytest.fixture
def scope(tmp_path: Path) -> Iterator[RunScope]:
    events: list[tuple[str, dict[str, Any]]] = []
    run_scope = RunScope(
        "run1", tmp_path / "logs", ProjectFile(None, {}), None, lambda kind, data: events.append((kind, data))
    )
    run_scope.events = events  # type: ignore[attr-defined]
    with run_scope.resources:
        yield run_scope


def test_a_node_runs_a_sandboxed_session_with_its_stylesheet_model(
    server: ScriptedLLMServer, scope: Any, workspace: Path
) -> None:
    server.push(
        Reply(
            tool_calls=[
                ToolUse("edit_file", {"file_path": "app.py", "old_string": "'hi'", "new_string": "'hello'"}),
                ToolUse("shell", {"command": "uname -n; echo key=$ANTHROPIC_API_KEY"}),
            ]
        ),
        Reply(text="Changed greet to say hello."),
    )
    node = Node(
        "implement", {"llm_provider": "anthropic", "llm_model": "claude-opus-4-6", "reasoning_effort": "low"}
    )
    backend = create_backend(scope, {"workspace": str(workspace)})
    response = backend.run(node, "Make greet say hello", Context())
    assert response == "Changed greet to say hello."
    assert (workspace / "app.py").read_text() == "def greet():\n    return 'hello'\n"
    first = server.requests[0]
    assert first.body["model"] == "claude-opus-4-6" and first.body["thinking"]["budget_tokens"] == 2048
    kinds = [kind for kind, _ in scope.events]
    assert kinds[0] == "agent.session_start" and kinds[-1] == "agent.session_end"
    shell_end = next(
        d for k, d in scope.events if k == "agent.tool_call_end" and d["data"]["tool_name"] == "shell"
    )
    assert shell_end["node_id"] == "implement"
    # it ran in the sandbox: its own hostname, and no API key in its environment
    assert shell_end["data"]["output"].splitlines()[:2] == ["shopfloor-sandbox", "key="]
    json.dumps(scope.events)  # events.jsonl-ready


def test_provider_defaults_to_the_configured_one_and_effort_to_high(
    server: ScriptedLLMServer, scope: Any, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    server.push(Reply(text="done"))
    create_backend(scope, {"workspace": str(workspace), "environment": "local"}).run(
        Node("n"), "x", Context()
    )
    request = server.requests[0]
    assert request.provider == "gemini" and "gemini-3-pro-preview" in request.path
    assert request.body["generationConfig"]["thinkingConfig"]["thinkingLevel"] == "high"


def test_turn_limit_fails_the_node(server: ScriptedLLMServer, scope: Any, workspace: Path) -> None:
    server.push(Reply(tool_calls=[ToolUse("shell", {"command": "true"})]))
    backend = create_backend(
        scope,
        {
            "workspace": str(workspace),
            "environment": "local",
            "session": {"max_turns": 1},
            "provider": "openai",
        },
    )
    outcome = backend.run(Node("n"), "loop", Context())
    assert isinstance(outcome, Outcome) and outcome.status == StageStatus.FAIL
    assert outcome.failure_reason.startswith("agent stopped at its turn limit after 1 turns")


def test_node_and_graph_tool_hooks_run_commands_around_tool_calls(
    server: ScriptedLLMServer, scope: Any, workspace: Path, tmp_path: Path
) -> None:
    audit = tmp_path / "audit.log"
    server.push(
        Reply(
            tool_calls=[
                ToolUse("shell", {"command": "echo one"}),
                ToolUse("shell", {"command": "echo BLOCKED"}),
            ]
        ),
        Reply(text="ok"),
    )
    node = Node(
        "n",
        {
            "llm_provider": "openai",
            "tool_hooks.pre": "grep -q BLOCKED && { echo 'not allowed' >&2; exit 1; } || exit 0",
        },
    )
    # the post hook is graph-level: the engine mirrors graph attributes into the context as graph.*
    context = Context({"graph.tool_hooks.post": f'echo "$SHOPFLOOR_TOOL_NAME" >> {audit}'})
    create_backend(scope, {"workspace": str(workspace), "environment": "local"}).run(node, "x", context)
    ends = [d["data"] for k, d in scope.events if k == "agent.tool_call_end"]
    assert sorted(e.get("error") or e["output"].splitlines()[0] for e in ends) == [
        "Tool call blocked: pre-hook `grep -q BLOCKED && { echo 'not allowed' >&2; exit 1; } || exit 0` "
        "exited 1: not allowed",
        "one",
    ]
    assert audit.read_text() == "shell\nshell\n"


def test_an_emergency_stop_aborts_the_session(server: ScriptedLLMServer, scope: Any, workspace: Path) -> None:
    server.push(Reply(tool_calls=[ToolUse("shell", {"command": "sleep 30", "timeout_ms": 60_000})]))
    backend = create_backend(scope, {"workspace": str(workspace), "provider": "anthropic"})
    threading.Timer(0.5, scope.stop_requested.set).start()
    with pytest.raises(RunStopped):
        backend.run(Node("n"), "long job", Context())
    assert [k for k, _ in scope.events][-1] == "agent.session_end"


def test_unknown_provider_and_bad_settings_are_user_errors(
    server: ScriptedLLMServer, scope: Any, workspace: Path
) -> None:
    backend = create_backend(scope, {"workspace": str(workspace), "environment": "local"})
    with pytest.raises(UserError, match="unknown provider 'mistral'"):
        backend.run(Node("n", {"llm_provider": "mistral"}), "x", Context())
    with pytest.raises(
        UserError, match=r"\[agent.session.max_turns\] \(or backend option\): invalid agent setting"
    ):
        create_backend(scope, {"session": {"max_turns": -1}})
    with pytest.raises(UserError, match="node n reasoning_effort: reasoning_effort must be one of"):
        backend.run(Node("n", {"reasoning_effort": "extreme", "llm_provider": "openai"}), "x", Context())


def test_copy_on_write_mode_works_in_a_run_workspace_kept_as_a_candidate(
    server: ScriptedLLMServer, scope: Any, workspace: Path
) -> None:
    import subprocess

    from shopfloor.sandbox.workspace import WorkspaceManager

    git_env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@x",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@x",
        "PATH": "/usr/bin:/bin",
    }
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "base"]):
        subprocess.run(["git", *args], cwd=workspace, check=True, env=git_env, capture_output=True)
    server.push(
        Reply(tool_calls=[ToolUse("write_file", {"file_path": "new.py", "content": "NEW = 1\n"})]),
        Reply(text="added new.py"),
    )
    backend = create_backend(
        scope, {"workspace": str(workspace), "workspace_mode": "copy_on_write", "provider": "anthropic"}
    )
    manager = WorkspaceManager()
    try:
        assert backend.run(Node("n"), "add new.py", Context()) == "added new.py"
        assert not (workspace / "new.py").exists()
        [announced] = [d for k, d in scope.events if k == "agent.workspace"]
        scope.resources.close()  # the run ends
        kept = manager.get(announced["name"])
        assert kept.status == "kept" and (Path(kept.path) / "new.py").read_text() == "NEW = 1\n"
    finally:
        for ws in manager.list():
            manager.discard(ws.name)


def test_the_agent_cannot_rewrite_its_run_records_or_the_project_config(
    server: ScriptedLLMServer, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shopfloor.workers.agent

    # without govern's policy hooks, so that the sandbox itself is what refuses
    monkeypatch.setattr(shopfloor.workers.agent, "SESSION_PLUGINS", [])
    (workspace / "shopfloor.toml").write_text("[agent]\n")
    logs = workspace / "runs" / "run1"
    logs.mkdir(parents=True)
    (logs / "events.jsonl").write_text("{}\n")
    events: list[tuple[str, dict[str, Any]]] = []
    scope = RunScope(
        "run1",
        logs,
        ProjectFile.load(workspace / "shopfloor.toml"),
        None,
        lambda kind, data: events.append((kind, data)),
    )
    server.push(
        Reply(
            tool_calls=[
                ToolUse(
                    "shell",
                    {
                        "command": "echo forged >> runs/run1/events.jsonl; echo '[x]' >> shopfloor.toml; "
                        "echo ok > allowed.txt"
                    },
                ),
                ToolUse("write_file", {"file_path": "runs/run1/checkpoint.json", "content": "{}"}),
            ]
        ),
        Reply(text="tried"),
    )
    with scope.resources:
        create_backend(scope, {"workspace": str(workspace), "provider": "anthropic"}).run(
            Node("n"), "x", Context()
        )
    assert (logs / "events.jsonl").read_text() == "{}\n"
    assert (workspace / "shopfloor.toml").read_text() == "[agent]\n"
    assert not (logs / "checkpoint.json").exists()
    assert (workspace / "allowed.txt").read_text() == "ok\n"  # the rest of the workspace stays writable
    shell_output = next(
        d["data"]["output"]
        for k, d in events
        if k == "agent.tool_call_end" and d["data"]["tool_name"] == "shell"
    )
    assert "Read-only file system" in shell_output


def test_policy_protected_paths_are_read_only_in_the_agents_sandbox(
    server: ScriptedLLMServer, workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shopfloor.workers.agent

    # without govern's policy hooks, so that the filesystem itself is what refuses
    monkeypatch.setattr(shopfloor.workers.agent, "SESSION_PLUGINS", [])
    config = tmp_path / "shopfloor.toml"
    config.write_text('[policy]\nprotected_paths = ["contracts/**"]\n')
    for sealed in ("scenarios/s1.yaml", "contracts/layers.ini"):
        (workspace / sealed).parent.mkdir(parents=True, exist_ok=True)
        (workspace / sealed).write_text("original\n")
    scope = RunScope("run1", tmp_path / "logs", ProjectFile.load(config), None, lambda kind, data: None)
    gaming = "echo gamed > scenarios/s1.yaml; echo gamed > contracts/layers.ini; echo ok > mine.txt"
    server.push(Reply(tool_calls=[ToolUse("shell", {"command": gaming})]), Reply(text="tried"))
    with scope.resources:
        create_backend(scope, {"workspace": str(workspace), "provider": "anthropic"}).run(
            Node("n"), "x", Context()
        )
    assert (workspace / "scenarios" / "s1.yaml").read_text() == "original\n"  # a default protected path
    assert (workspace / "contracts" / "layers.ini").read_text() == "original\n"  # the project's own
    assert (workspace / "mine.txt").read_text() == "ok\n"


def test_without_a_workspace_option_the_agent_works_in_the_runs_workspace(
    server: ScriptedLLMServer, workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A `shopfloor.workspace` node's directory, never the current directory (the project checkout)."""
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    monkeypatch.chdir(checkout)
    scope = RunScope("run1", tmp_path / "logs", ProjectFile(None, {}), None, lambda kind, data: None)
    server.push(Reply(tool_calls=[ToolUse("write_file", {"file_path": "made.txt", "content": "x"})]),
                Reply(text="done"))
    with scope.resources:
        create_backend(scope, {"provider": "anthropic"}).run(
            Node("n"), "x", Context({"workspace.dir": str(workspace)}))
    assert (workspace / "made.txt").read_text() == "x"
    assert not (checkout / "made.txt").exists()
