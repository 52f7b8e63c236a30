"""coding-agent-loop-spec 9.12: the cross-provider parity matrix, one test per row, three providers each.

Every test drives a real Session through the real LLM client against the scripted
provider server speaking that provider's wire format; tools act on a real
temporary workspace.
"""

from __future__ import annotations

import threading
from typing import Any

from shopfloor.agent.turns import SteeringTurn
from tests.support.agent import CHILD_MODELS, AgentHarness, request_model
from tests.support.llm_server import RecordedRequest, Reply, ToolUse


def test_simple_file_creation(agent: AgentHarness) -> None:
    agent.server.push(
        Reply(tool_calls=[agent.write_call("hello.py", "print('Hello World')\n")]),
        Reply(text="Created hello.py."),
    )
    result = agent.session().submit("Create a file called hello.py that prints 'Hello World'")
    assert result.status == "completed" and result.text == "Created hello.py."
    assert (agent.workspace / "hello.py").read_text() == "print('Hello World')\n"


def test_read_file_then_edit_it(agent: AgentHarness) -> None:
    (agent.workspace / "hello.py").write_text("print('Hello')\n")
    agent.server.push(
        Reply(tool_calls=[ToolUse("read_file", {"file_path": "hello.py"})]),
        Reply(tool_calls=[agent.edit_call("hello.py", "print('Hello')", "print('Hello')\nprint('Goodbye')")]),
        Reply(text="Added Goodbye."),
    )
    agent.session().submit("Read hello.py and add a second print that says 'Goodbye'")
    assert "1 | print('Hello')" in agent.sent(1)  # the model saw the line-numbered file
    assert (agent.workspace / "hello.py").read_text() == "print('Hello')\nprint('Goodbye')\n"


def test_multi_file_edit_in_one_session(agent: AgentHarness) -> None:
    for name in ("a.py", "b.py", "c.py"):
        (agent.workspace / name).write_text(f"NAME = '{name}'\n")
    agent.server.push(
        Reply(
            tool_calls=[
                agent.edit_call("a.py", "NAME = 'a.py'", "NAME = 'A'"),
                agent.edit_call("b.py", "NAME = 'b.py'", "NAME = 'B'"),
            ]
        ),
        Reply(text="Edited a and b."),
        Reply(tool_calls=[agent.edit_call("c.py", "NAME = 'c.py'", "NAME = 'C'")]),
        Reply(text="Edited c."),
    )
    session = agent.session()
    session.submit("Rename in a.py and b.py")
    session.submit("Now c.py")
    assert [(agent.workspace / n).read_text() for n in ("a.py", "b.py", "c.py")] == [
        "NAME = 'A'\n",
        "NAME = 'B'\n",
        "NAME = 'C'\n",
    ]


def test_shell_command_execution(agent: AgentHarness) -> None:
    agent.server.push(
        Reply(tool_calls=[ToolUse("shell", {"command": "echo built > out.txt && cat out.txt"})]),
        Reply(text="It printed built."),
    )
    agent.session().submit("Run the build")
    assert (agent.workspace / "out.txt").read_text() == "built\n"
    end = agent.of_kind("tool_call_end")[0]
    assert end.data["output"].startswith("built\nExit code: 0")
    assert "Exit code: 0" in agent.sent(1)


def test_shell_command_timeout_handling(agent: AgentHarness) -> None:
    agent.server.push(
        Reply(tool_calls=[ToolUse("shell", {"command": "echo started; sleep 20", "timeout_ms": 300})]),
        Reply(text="The command timed out; I will run it in the background instead."),
    )
    result = agent.session().submit("Run the slow thing")
    output = agent.of_kind("tool_call_end")[0].data["output"]
    assert output.startswith("started\n[ERROR: Command timed out after 300ms. Partial output is shown above.")
    assert "Command timed out after 300ms" in agent.sent(1)
    assert result.status == "completed"


def test_grep_and_glob_to_find_files(agent: AgentHarness) -> None:
    (agent.workspace / "src").mkdir()
    (agent.workspace / "src/auth.py").write_text("def login():\n    pass  # FIXME\n")
    (agent.workspace / "src/util.py").write_text("def helper():\n    return 1\n")
    agent.server.push(
        Reply(tool_calls=[ToolUse("glob", {"pattern": "**/*.py"}), ToolUse("grep", {"pattern": "FIXME"})]),
        Reply(text="The FIXME is in src/auth.py line 2."),
    )
    agent.session().submit("Find the FIXME")
    outputs = {e.data["tool_name"]: e.data["output"] for e in agent.of_kind("tool_call_end")}
    assert outputs["glob"].count(".py") == 2
    assert outputs["grep"].endswith("src/auth.py:2:    pass  # FIXME")
    assert "auth.py:2:" in agent.sent(1)


def test_multi_step_read_analyze_edit(agent: AgentHarness) -> None:
    (agent.workspace / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    agent.server.push(
        Reply(tool_calls=[ToolUse("grep", {"pattern": "def add"})]),
        Reply(tool_calls=[ToolUse("read_file", {"file_path": "calc.py"})]),
        Reply(
            text="add subtracts; fixing.",
            tool_calls=[agent.edit_call("calc.py", "    return a - b", "    return a + b")],
        ),
        Reply(tool_calls=[ToolUse("shell", {"command": "python3 -c 'import calc; print(calc.add(2, 3))'"})]),
        Reply(text="Fixed: add(2, 3) == 5."),
    )
    result = agent.session().submit("Fix the add bug")
    assert result.tool_rounds == 4 and result.turns == 5
    assert (agent.workspace / "calc.py").read_text().endswith("return a + b\n")
    assert agent.of_kind("tool_call_end")[-1].data["output"].startswith("5\n")


def test_tool_output_truncation_on_a_large_file(agent: AgentHarness) -> None:
    (agent.workspace / "big.txt").write_text("x" * 100_000)
    agent.server.push(Reply(tool_calls=[ToolUse("read_file", {"file_path": "big.txt"})]), Reply(text="Big."))
    agent.session().submit("Read big.txt")
    end = agent.of_kind("tool_call_end")[0]
    assert end.data["output"].count("x") == 100_000 and end.data["truncated"] is True
    sent = agent.sent(1)
    assert "[WARNING: Tool output was truncated." in sent
    assert sent.count("x") < 60_000


def test_parallel_tool_calls(agent: AgentHarness) -> None:
    # Each command waits for the other's marker: run one after the other, the first would time out.
    def waiter(mine: str, other: str) -> ToolUse:
        return ToolUse(
            "shell",
            {
                "command": f"touch {mine}; for i in $(seq 100); do [ -f {other} ] && "
                f"echo saw {other} && exit 0; sleep 0.05; done; exit 1",
                "timeout_ms": 8000,
            },
        )

    agent.server.push(
        Reply(tool_calls=[waiter("a.mark", "b.mark"), waiter("b.mark", "a.mark")]), Reply(text="Both ran.")
    )
    session = agent.session()
    assert session.profile.supports_parallel_tool_calls
    session.submit("Run both")
    outputs = sorted(e.data["output"].splitlines()[0] for e in agent.of_kind("tool_call_end"))
    assert outputs == ["saw a.mark", "saw b.mark"]


def test_steering_mid_task(agent: AgentHarness) -> None:
    agent.server.push(
        Reply(tool_calls=[agent.write_call("app.py", "routes = ['/', '/users', '/admin']\n")]),
        Reply(tool_calls=[agent.write_call("app.py", "routes = ['/health']\n")]),
        Reply(text="Only /health now."),
    )
    session = agent.session()
    steered = threading.Event()

    def steer_once(event: Any) -> None:
        if event.kind.value == "tool_call_end" and not steered.is_set():
            steered.set()
            session.steer("Actually, just create a single /health endpoint for now")

    session.add_listener(steer_once)
    session.submit("Create a web app with multiple routes")
    assert "just create a single /health endpoint" in agent.sent(1)
    assert "just create a single /health endpoint" not in agent.sent(0)
    assert any(isinstance(t, SteeringTurn) for t in session.history)
    assert agent.kinds().index("steering_injected") < agent.kinds().index("processing_end")
    assert (agent.workspace / "app.py").read_text() == "routes = ['/health']\n"


REASONING_FIELD = {
    "openai": lambda body: body["reasoning"]["effort"],
    "anthropic": lambda body: body["thinking"]["budget_tokens"],
    "gemini": lambda body: body["generationConfig"]["thinkingConfig"]["thinkingLevel"],
}
REASONING_VALUES = {"openai": ("low", "high"), "anthropic": (2048, 24576), "gemini": ("low", "high")}


def test_reasoning_effort_change(agent: AgentHarness) -> None:
    agent.server.push(Reply(text="quick"), Reply(text="deep"))
    session = agent.session(reasoning_effort="low")
    session.submit("Quick question")
    session.config.reasoning_effort = "high"  # takes effect on the next LLM call
    session.submit("Hard question")
    field = REASONING_FIELD[agent.provider]
    assert (field(agent.server.requests[0].body), field(agent.server.requests[1].body)) == REASONING_VALUES[
        agent.provider
    ]


def test_subagent_spawn_and_wait(agent: AgentHarness) -> None:
    child_model = CHILD_MODELS[agent.provider]
    parent_script = [
        Reply(
            tool_calls=[ToolUse("spawn_agent", {"task": "Write tests for hello.py", "model": child_model})]
        ),
        lambda req: Reply(tool_calls=[ToolUse("wait", {"agent_id": agent.spawned_agent_id(req)})]),
        Reply(text="The subagent wrote test_hello.py; reviewed."),
    ]
    child_script = [
        Reply(tool_calls=[agent.write_call("test_hello.py", "def test_hello():\n    assert True\n")]),
        Reply(text="Wrote test_hello.py."),
    ]

    def route(req: RecordedRequest) -> Any:
        script = child_script if request_model(req) == child_model else parent_script
        item = script.pop(0)
        return item(req) if callable(item) else item

    agent.server.default = route
    session = agent.session()
    result = session.submit("Spawn a subagent to write tests for hello.py, then review its output")
    assert result.text == "The subagent wrote test_hello.py; reviewed."
    assert (agent.workspace / "test_hello.py").exists()  # same filesystem
    wait_end = next(e for e in agent.of_kind("tool_call_end") if e.data["tool_name"] == "wait")
    assert (
        "succeeded after 2 turn(s)" in wait_end.data["output"]
        and "Wrote test_hello.py." in wait_end.data["output"]
    )
    child_events = [e for e in agent.events if e.session_id != session.id]
    assert {"session_start", "tool_call_end", "processing_end"} <= {e.kind.value for e in child_events}


def test_loop_detection_triggers_warning(agent: AgentHarness) -> None:
    (agent.workspace / "a.txt").write_text("same\n")
    agent.server.push(
        *[Reply(tool_calls=[ToolUse("read_file", {"file_path": "a.txt"})]) for _ in range(10)],
        Reply(text="I will try something else."),
    )
    session = agent.session()
    session.submit("Keep reading")
    [warning] = agent.of_kind("loop_detection")
    assert warning.data["message"].startswith(
        "Loop detected: the last 10 tool calls follow a repeating pattern."
    )
    assert "Loop detected" in agent.sent(10) and "Loop detected" not in agent.sent(9)
    assert isinstance(session.history[-2], SteeringTurn)


def test_error_recovery_when_a_tool_fails(agent: AgentHarness) -> None:
    (agent.workspace / "src").mkdir()
    (agent.workspace / "src/config.py").write_text("DEBUG = False\n")
    agent.server.push(
        Reply(tool_calls=[ToolUse("read_file", {"file_path": "config.py"})]),
        Reply(tool_calls=[ToolUse("read_file", {"file_path": "src/config.py"})]),
        Reply(text="DEBUG is False."),
    )
    result = agent.session().submit("What is DEBUG?")
    first, second = agent.of_kind("tool_call_end")
    assert first.data["error"] == "Tool error (read_file): File not found: config.py"
    assert "File not found: config.py" in agent.sent(1)
    assert "DEBUG = False" in second.data["output"] and result.status == "completed"


def test_provider_specific_editing_format(agent: AgentHarness) -> None:
    (agent.workspace / "config.py").write_text("TIMEOUT = 30\nRETRIES = 3\n\ndef load():\n    return {}\n")
    native = {
        "openai": ToolUse(
            "apply_patch",
            {
                "patch": "*** Begin Patch\n*** Update File: config.py\n@@ TIMEOUT = 30\n"
                "-TIMEOUT = 30\n+TIMEOUT = 60\n RETRIES = 3\n"
                "*** Add File: NOTES.md\n+timeout raised\n*** End Patch"
            },
        ),
        "anthropic": ToolUse(
            "edit_file",
            {"file_path": "config.py", "old_string": "TIMEOUT = 30", "new_string": "TIMEOUT = 60"},
        ),
        "gemini": ToolUse(
            "edit_file",
            {
                "file_path": "config.py",
                "old_string": "TIMEOUT = 30\nRETRIES = 3",
                "new_string": "TIMEOUT = 60\nRETRIES = 3",
                "expected_replacements": 1,
            },
        ),
    }[agent.provider]
    agent.server.push(Reply(tool_calls=[native]), Reply(text="Raised the timeout."))
    session = agent.session()
    session.submit("Raise the timeout to 60")
    tool_names = {
        t["name"] if "name" in t else t.get("function", {}).get("name")
        for t in _tool_list(agent.server.requests[0].body)
    }
    assert ("apply_patch" in tool_names) == (agent.provider == "openai")
    assert ("edit_file" in tool_names) == (agent.provider != "openai")
    assert (agent.workspace / "config.py").read_text().startswith("TIMEOUT = 60\nRETRIES = 3\n")
    assert agent.of_kind("tool_call_end")[0].data.get("error") is None


def _tool_list(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Tool declarations as each wire format nests them."""
    if "tools" in body and body["tools"] and "functionDeclarations" in body["tools"][0]:
        return [d for t in body["tools"] for d in t["functionDeclarations"]]
    return list(body.get("tools") or [])
