"""The agent-loop conformance subcommands, run as a suite runs them: real subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.llm_server import Reply, ScriptedLLMServer, ToolUse


@pytest.fixture
def server() -> Iterator[ScriptedLLMServer]:
    with ScriptedLLMServer() as srv:
        yield srv


def conformance(cmd: list[str], sub: str, stdin: str | None, env: dict[str, str], *args: str,
                cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*cmd, "conformance", sub, *args], input=stdin, capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=60, cwd=cwd)


def provider_env(server: ScriptedLLMServer, provider: str) -> dict[str, str]:
    return {k: v for k, v in server.env().items() if k.startswith(provider.upper())}


@pytest.mark.parametrize("provider, write_tool", [("openai", "apply_patch"), ("anthropic", "write_file"),
                                                  ("gemini", "write_file")])
def test_process_input_runs_the_loop_with_the_configured_provider(
        shopfloor_cmd: list[str], server: ScriptedLLMServer, tmp_path: Path, provider: str,
        write_tool: str) -> None:
    args = ({"patch": "*** Begin Patch\n*** Add File: hello.py\n+print('hi')\n*** End Patch"}
            if write_tool == "apply_patch" else {"file_path": "hello.py", "content": "print('hi')\n"})
    server.push(Reply(tool_calls=[ToolUse(write_tool, args)]), Reply(text="Created hello.py."))
    proc = conformance(shopfloor_cmd, "process-input", json.dumps({"prompt": "make hello.py"}),
                       provider_env(server, provider), "--workdir", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert (result["status"], result["final_text"], result["turns"]) == ("completed", "Created hello.py.", 2)
    assert result["provider"] == provider
    assert (tmp_path / "hello.py").read_text() == "print('hi')\n"


def test_events_prints_one_json_object_per_event(shopfloor_cmd: list[str], server: ScriptedLLMServer) -> None:
    server.push(Reply(tool_calls=[ToolUse("shell", {"command": "echo hi"})]), Reply(text="Hello!"))
    proc = conformance(shopfloor_cmd, "events", None, provider_env(server, "anthropic"))
    assert proc.returncode == 0, proc.stderr
    kinds = [json.loads(line)["kind"] for line in proc.stdout.splitlines()]
    assert kinds[0] == "session_start" and kinds[-1] == "session_end"
    expected = {"user_input", "tool_call_start", "tool_call_end", "assistant_text_end", "processing_end"}
    assert expected <= set(kinds)


def test_process_input_without_an_endpoint_fails_cleanly(shopfloor_cmd: list[str]) -> None:
    proc = conformance(shopfloor_cmd, "process-input", '{"prompt": "x"}', {})
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["error"]["type"] == "configuration_error"
    assert "Traceback" not in proc.stderr


def test_tool_dispatch_results_and_errors(shopfloor_cmd: list[str], tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("alpha\nbeta\n")

    def dispatch(name: str, arguments: dict[str, object]) -> subprocess.CompletedProcess[str]:
        request = json.dumps({"tool_name": name, "arguments": arguments})
        return conformance(shopfloor_cmd, "tool-dispatch", request, {}, cwd=tmp_path)

    ok = dispatch("read_file", {"file_path": "notes.txt"})
    assert ok.returncode == 0 and json.loads(ok.stdout)["content"] == "  1 | alpha\n  2 | beta"
    # edit_file is not an OpenAI-profile tool: it is dispatched through the profile that has it
    edit = dispatch("edit_file", {"file_path": "notes.txt", "old_string": "beta", "new_string": "gamma"})
    assert edit.returncode == 0 and (tmp_path / "notes.txt").read_text() == "alpha\ngamma\n"
    failed = dispatch("edit_file", {"file_path": "notes.txt", "old_string": "zeta", "new_string": "x"})
    result = json.loads(failed.stdout)
    assert failed.returncode == 0 and result["is_error"] is True
    assert "old_string not found" in result["content"]
    invalid = dispatch("read_file", {})
    assert invalid.returncode == 1 and json.loads(invalid.stdout)["error"]["type"] == "invalid_arguments"


def test_session_create_and_steering(shopfloor_cmd: list[str], server: ScriptedLLMServer) -> None:
    created = conformance(shopfloor_cmd, "session-create", None, provider_env(server, "gemini"))
    info = json.loads(created.stdout)
    assert created.returncode == 0 and info["provider"] == "gemini" and len(info["session_id"]) == 32
    assert "read_many_files" in info["tools"]
    steered = conformance(shopfloor_cmd, "steering", '{"message": "use tabs"}', {})
    ack = json.loads(steered.stdout)
    assert steered.returncode == 0 and ack["acknowledged"] is True and ack["queued"] == 1
