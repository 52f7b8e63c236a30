"""coding-agent-loop-spec 9.1-9.11 Definition of Done, against the scripted provider server."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shopfloor.agent.config import SessionConfig
from shopfloor.agent.events import EventKind, SessionEvent
from shopfloor.agent.hooks import HookDecision, ToolCallInfo, ToolHooks
from shopfloor.agent.profiles import create_anthropic_profile, create_gemini_profile, create_openai_profile
from shopfloor.agent.registry import RegisteredTool, ToolError, tool_definition
from shopfloor.agent.session import Session, SessionClosedError, SessionState
from shopfloor.agent.turns import SteeringTurn, UserTurn, history_to_messages
from shopfloor.llm.errors import AuthenticationError
from shopfloor.llm.types import Role
from shopfloor.sandbox.environment import LocalExecutionEnvironment
from tests.support.agent import AgentHarness
from tests.support.llm_server import Fail, Reply, ToolUse

# -- 9.1 core loop ---------------------------------------------------------------------------------


def test_session_is_created_with_a_profile_and_an_environment(anthropic_agent: AgentHarness) -> None:
    session = anthropic_agent.session()
    assert session.state == SessionState.IDLE and len(session.id) == 32
    [start] = anthropic_agent.events
    assert start.kind == EventKind.SESSION_START
    assert start.data["profile"] == "anthropic" and start.data["working_directory"] == str(
        anthropic_agent.workspace
    )


def test_natural_completion_ends_the_loop_and_returns_to_idle(anthropic_agent: AgentHarness) -> None:
    anthropic_agent.server.push(Reply(text="All good."))
    session = anthropic_agent.session()
    result = session.submit("Hello")
    assert (result.status, result.text, result.turns, result.tool_rounds) == ("completed", "All good.", 1, 0)
    assert session.state == SessionState.IDLE
    assert anthropic_agent.kinds()[-1] == "processing_end"


def test_a_question_leaves_the_session_awaiting_input(anthropic_agent: AgentHarness) -> None:
    anthropic_agent.server.push(Reply(text="Which database should I use?"), Reply(text="Using SQLite."))
    session = anthropic_agent.session()
    assert session.submit("Add storage").status == "awaiting_input"
    assert session.state == SessionState.AWAITING_INPUT
    assert session.submit("SQLite").status == "completed" and session.state == SessionState.IDLE


def test_max_tool_rounds_per_input_stops_the_loop(anthropic_agent: AgentHarness) -> None:
    anthropic_agent.server.push(
        *[Reply(tool_calls=[ToolUse("shell", {"command": f"echo {i}"})]) for i in range(2)]
    )
    session = anthropic_agent.session(max_tool_rounds_per_input=2)
    result = session.submit("Loop forever")
    assert result.status == "turn_limit" and result.tool_rounds == 2
    [limit] = anthropic_agent.of_kind("turn_limit")
    assert limit.data == {"round": 2, "limit": "max_tool_rounds_per_input"}
    assert session.state == SessionState.IDLE


def test_max_turns_counts_across_inputs(anthropic_agent: AgentHarness) -> None:
    anthropic_agent.server.push(
        Reply(tool_calls=[ToolUse("shell", {"command": "true"})]),
        Reply(text="one"),
        Reply(tool_calls=[ToolUse("shell", {"command": "true"})]),
    )
    session = anthropic_agent.session(max_turns=3)
    assert session.submit("first").status == "completed"
    result = session.submit("second")
    assert result.status == "turn_limit" and session.turn_count() == 3
    assert anthropic_agent.of_kind("turn_limit")[0].data == {"total_turns": 3, "limit": "max_turns"}


def test_abort_stops_the_loop_kills_commands_and_closes(anthropic_agent: AgentHarness) -> None:
    anthropic_agent.server.push(
        Reply(
            tool_calls=[ToolUse("shell", {"command": "sleep 30; echo late > late.txt", "timeout_ms": 60_000})]
        )
    )
    session = anthropic_agent.session()

    def abort_soon(event: SessionEvent) -> None:
        if event.kind == EventKind.TOOL_CALL_START:
            threading.Timer(0.3, session.abort).start()

    session.add_listener(abort_soon)
    started = time.monotonic()
    result = session.submit("Run the long job")
    assert time.monotonic() - started < 10
    assert result.status == "aborted" and session.state == SessionState.CLOSED
    assert anthropic_agent.kinds()[-1] == "session_end"
    time.sleep(0.2)
    assert not (anthropic_agent.workspace / "late.txt").exists()
    with pytest.raises(SessionClosedError):
        session.submit("again")


def test_multiple_sequential_inputs_share_one_history(anthropic_agent: AgentHarness) -> None:
    anthropic_agent.server.push(Reply(text="first answer"), Reply(text="second answer"))
    session = anthropic_agent.session()
    session.submit("first question")
    session.submit("second question")
    assert [t.content for t in session.history if isinstance(t, UserTurn)] == [
        "first question",
        "second question",
    ]
    assert "first answer" in anthropic_agent.sent(1)


# -- 9.2 provider profiles -------------------------------------------------------------------------


def test_each_profile_offers_its_native_tools() -> None:
    common = {
        "read_file",
        "write_file",
        "shell",
        "grep",
        "glob",
        "spawn_agent",
        "send_input",
        "wait",
        "close_agent",
    }
    openai, anthropic, gemini = (
        set(p().tool_registry.names())
        for p in (create_openai_profile, create_anthropic_profile, create_gemini_profile)
    )
    assert common | {"apply_patch"} == openai
    assert common | {"edit_file"} == anthropic
    assert common | {"edit_file", "read_many_files", "list_dir"} == gemini
    assert "old_string" in str(
        create_anthropic_profile().tool_registry.get("edit_file").definition.parameters
    )
    assert "expected_replacements" in str(
        create_gemini_profile().tool_registry.get("edit_file").definition.parameters
    )


@pytest.mark.parametrize(
    "factory, phrases",
    [
        (create_openai_profile, ["coding agent", "apply_patch", "*** Begin Patch", "root cause"]),
        (create_anthropic_profile, ["Claude Code", "old_string", "unique", "prefer editing existing files"]),
        (create_gemini_profile, ["Gemini CLI", "GEMINI.md", "Conventions", "expected_replacements"]),
    ],
)
def test_each_profile_has_its_own_system_prompt(factory: Any, phrases: list[str]) -> None:
    base = factory().base_instructions.lower()
    for phrase in phrases:
        assert phrase.lower() in base, phrase


def test_custom_tools_are_offered_and_override_profile_tools(anthropic_agent: AgentHarness) -> None:
    calls: list[dict[str, Any]] = []
    session = anthropic_agent.session()
    run_tests = RegisteredTool(
        tool_definition("run_tests", "Run the project's test suite", {"filter": {"type": "string"}}, []),
        lambda args, env: calls.append(args) or "3 passed",
    )
    custom_shell = RegisteredTool(
        tool_definition("shell", "A locked-down shell", {"command": {"type": "string"}}, ["command"]),
        lambda args, env: "shell is disabled here",
    )
    session.profile.tool_registry.register(run_tests)
    session.profile.tool_registry.register(custom_shell)
    anthropic_agent.server.push(
        Reply(
            tool_calls=[ToolUse("run_tests", {"filter": "auth"}), ToolUse("shell", {"command": "rm -rf /"})]
        ),
        Reply(text="ok"),
    )
    session.submit("test it")
    assert calls == [{"filter": "auth"}]
    outputs = {e.data["tool_name"]: e.data["output"] for e in anthropic_agent.of_kind("tool_call_end")}
    assert outputs == {"run_tests": "3 passed", "shell": "shell is disabled here"}
    assert "A locked-down shell" in anthropic_agent.sent(0)


# -- 9.3 tool execution ----------------------------------------------------------------------------


def test_unknown_tools_and_invalid_arguments_become_error_results(anthropic_agent: AgentHarness) -> None:
    anthropic_agent.server.push(
        Reply(tool_calls=[ToolUse("teleport", {}), ToolUse("read_file", {"path": "x"})]),
        Reply(text="recovered"),
    )
    result = anthropic_agent.session().submit("go")
    errors = [e.data["error"] for e in anthropic_agent.of_kind("tool_call_end")]
    assert errors[0].startswith("Unknown tool: teleport.")
    assert errors[1].startswith("Invalid arguments for tool: read_file: ")
    body = anthropic_agent.server.requests[1].body
    results = [
        b
        for m in body["messages"]
        for b in (m["content"] if isinstance(m["content"], list) else [])
        if b.get("type") == "tool_result"
    ]
    assert [r.get("is_error") for r in results] == [True, True]
    assert result.status == "completed"


def test_tool_exceptions_are_error_results_not_crashes(anthropic_agent: AgentHarness) -> None:
    session = anthropic_agent.session()

    def explode(args: dict[str, Any], env: Any) -> str:
        raise RuntimeError("disk on fire")

    session.profile.tool_registry.register(RegisteredTool(tool_definition("explode", "", {}, []), explode))
    anthropic_agent.server.push(Reply(tool_calls=[ToolUse("explode", {})]), Reply(text="handled"))
    assert session.submit("x").status == "completed"
    assert anthropic_agent.of_kind("tool_call_end")[0].data["error"] == "Tool error (explode): disk on fire"


# -- 9.4 execution environment -------------------------------------------------------------------


def test_command_timeouts_default_override_and_cap() -> None:
    config = SessionConfig()
    assert config.default_command_timeout_ms == 10_000 and config.max_command_timeout_ms == 600_000
    assert config.command_timeout_ms(None) == 10_000
    assert config.command_timeout_ms(None, create_anthropic_profile().default_command_timeout_ms) == 120_000
    assert config.command_timeout_ms(2_500) == 2_500
    assert config.command_timeout_ms(10_000_000) == 600_000


def test_secrets_are_filtered_from_shell_commands(
    anthropic_agent: AgentHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEPLOY_TOKEN", "hunter2")
    monkeypatch.setenv("SHOPFLOOR_VISIBLE", "yes")
    anthropic_agent.server.push(
        Reply(
            tool_calls=[ToolUse("shell", {"command": "echo token=$DEPLOY_TOKEN visible=$SHOPFLOOR_VISIBLE"})]
        ),
        Reply(text="ok"),
    )
    anthropic_agent.session().submit("show env")
    assert anthropic_agent.of_kind("tool_call_end")[0].data["output"].startswith("token= visible=yes")


class ReadOnlyEnvironment:
    """spec 4.4: a consumer's own environment wrapping another one; it refuses writes."""

    def __init__(self, inner: LocalExecutionEnvironment) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def write_file(self, path: str, content: str) -> None:
        raise PermissionError("Write operations are disabled in read-only mode")


def test_consumers_can_supply_their_own_environment(anthropic_agent: AgentHarness) -> None:
    env = ReadOnlyEnvironment(anthropic_agent.env)
    session = Session(
        create_anthropic_profile(), env, anthropic_agent.client, listeners=[anthropic_agent.events.append]
    )  # type: ignore[arg-type]
    anthropic_agent.server.push(
        Reply(tool_calls=[ToolUse("write_file", {"file_path": "x", "content": "y"})]),
        Reply(text="read-only, fine"),
    )
    session.submit("write x")
    assert "Write operations are disabled" in anthropic_agent.of_kind("tool_call_end")[0].data["error"]
    assert not (anthropic_agent.workspace / "x").exists()


# -- 9.5 truncation overrides -------------------------------------------------------------------


def test_character_and_line_limits_are_overridable_in_the_config(anthropic_agent: AgentHarness) -> None:
    anthropic_agent.server.push(
        Reply(tool_calls=[ToolUse("shell", {"command": "seq 1 100"})]), Reply(text="ok")
    )
    anthropic_agent.session(tool_line_limits={"shell": 10}).submit("count")
    sent = anthropic_agent.sent(1)
    assert "lines omitted ...]" in sent and "\\n50\\n" not in sent
    assert "\n50\n" in anthropic_agent.of_kind("tool_call_end")[0].data["output"]


# -- 9.6 steering ----------------------------------------------------------------------------------


def test_steering_while_idle_is_delivered_before_the_next_call(anthropic_agent: AgentHarness) -> None:
    anthropic_agent.server.push(Reply(text="ok"))
    session = anthropic_agent.session()
    session.steer("Use tabs, not spaces")
    session.submit("Format the file")
    assert "Use tabs, not spaces" in anthropic_agent.sent(0)
    assert anthropic_agent.kinds().index("steering_injected") > anthropic_agent.kinds().index("user_input")


def test_follow_up_runs_after_the_current_input(anthropic_agent: AgentHarness) -> None:
    anthropic_agent.server.push(Reply(text="did A"), Reply(text="did B"))
    session = anthropic_agent.session()
    session.follow_up("Now do B")
    result = session.submit("Do A")
    assert result.text == "did B"
    assert [e.data["content"] for e in anthropic_agent.of_kind("user_input")] == ["Do A", "Now do B"]
    assert anthropic_agent.kinds().count("processing_end") == 2


def test_steering_turns_become_user_messages() -> None:
    messages = history_to_messages([UserTurn("do it"), SteeringTurn("do it differently")])
    assert [(m.role, m.text) for m in messages] == [(Role.USER, "do it"), (Role.USER, "do it differently")]


# -- 9.7 reasoning effort --------------------------------------------------------------------------


def test_no_reasoning_effort_leaves_the_provider_default(anthropic_agent: AgentHarness) -> None:
    anthropic_agent.server.push(Reply(text="ok"))
    anthropic_agent.session().submit("hi")
    assert "thinking" not in anthropic_agent.server.requests[0].body
    # the profile's provider options still reach the wire: Claude Code's interleaved-thinking beta
    assert "interleaved-thinking-2025-05-14" in anthropic_agent.server.requests[0].headers["anthropic-beta"]
    with pytest.raises(ValueError, match="reasoning_effort must be one of"):
        SessionConfig(reasoning_effort="extreme")
    assert SessionConfig(reasoning_effort="xhigh").reasoning_effort == "xhigh"


# -- 9.8 system prompts ----------------------------------------------------------------------------


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        env={
            **os.environ,
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@x",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@x",
        },
    )


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "project"
    (root / "pkg").mkdir(parents=True)
    (root / "AGENTS.md").write_text("ROOT-AGENTS: run make test")
    (root / "CLAUDE.md").write_text("ROOT-CLAUDE: prefer pytest")
    (root / "GEMINI.md").write_text("ROOT-GEMINI: never shown to Claude")
    (root / "pkg/AGENTS.md").write_text("PKG-AGENTS: this package is pure")
    _git(root, "init", "-q", "-b", "trunk")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "Initial layout")
    (root / "pkg/new.py").write_text("")
    yield root


def test_system_prompt_layers(anthropic_agent: AgentHarness, project: Path) -> None:
    env = LocalExecutionEnvironment(project / "pkg")
    config = SessionConfig(user_instructions="USER-OVERRIDE: answer in French")
    session = Session(create_anthropic_profile(), env, anthropic_agent.client, config)
    prompt = session.system_prompt()
    assert prompt.startswith(create_anthropic_profile().base_instructions)
    for line in (
        f"Working directory: {project / 'pkg'}",
        "Is git repository: true",
        "Git branch: trunk",
        "Platform: linux",
        "Model: Claude Sonnet 4.5 (claude-sonnet-4-5)",
        "Today's date: ",
    ):
        assert line in prompt, line
    assert "Initial layout" in prompt and "1 untracked" in prompt
    assert "- edit_file: Replace an exact string" in prompt
    assert prompt.index("ROOT-AGENTS") < prompt.index("ROOT-CLAUDE") < prompt.index("PKG-AGENTS")
    assert "ROOT-GEMINI" not in prompt
    assert prompt.rstrip().endswith("USER-OVERRIDE: answer in French")


def test_gemini_loads_gemini_md_and_the_budget_truncates(
    anthropic_agent: AgentHarness, project: Path
) -> None:
    env = LocalExecutionEnvironment(project)
    prompt = Session(create_gemini_profile(), env, anthropic_agent.client).system_prompt()
    assert "ROOT-GEMINI" in prompt and "ROOT-CLAUDE" not in prompt
    (project / ".codex").mkdir()
    (project / ".codex/instructions.md").write_text("CODEX-ONLY: use apply_patch")
    openai_prompt = Session(create_openai_profile(), env, anthropic_agent.client).system_prompt()
    assert (
        "CODEX-ONLY" in openai_prompt
        and "ROOT-AGENTS" in openai_prompt
        and "ROOT-GEMINI" not in openai_prompt
    )
    small = Session(
        create_openai_profile(), env, anthropic_agent.client, SessionConfig(project_docs_budget_bytes=1024)
    )
    (project / "AGENTS.md").write_text("x" * 5000)
    assert "[Project instructions truncated at 1KB]" in small.system_prompt()


def test_outside_git_the_environment_says_so(anthropic_agent: AgentHarness) -> None:
    prompt = anthropic_agent.session().system_prompt()
    assert "Is git repository: false" in prompt and "Git branch" not in prompt


# -- 9.9 subagents ---------------------------------------------------------------------------------


def test_subagents_cannot_spawn_beyond_the_depth_limit(anthropic_agent: AgentHarness) -> None:
    session = anthropic_agent.session()
    child = session.subagents.spawn("noop", model="claude-haiku-4-5")
    anthropic_agent.server.push(Reply(tool_calls=[ToolUse("spawn_agent", {"task": "grandchild"})]))
    anthropic_agent.server.push(Reply(text="I will do it myself."))
    # the child was started before the replies were queued; wait for its result
    result = session.subagents.wait(child.id)
    assert result.success and result.output == "I will do it myself."
    assert (
        "subagent depth limit reached"
        in next(e for e in anthropic_agent.of_kind("tool_call_end") if e.session_id == child.session.id).data[
            "error"
        ]
    )


def test_send_input_wait_and_close_agent(anthropic_agent: AgentHarness) -> None:
    session = anthropic_agent.session()
    anthropic_agent.server.push(Reply(text="first pass done", delay=0.3), Reply(text="second pass done"))
    child = session.subagents.spawn("do the first pass")
    assert session.subagents.send_input(child.id, "also check types").startswith("Message queued")
    # the message arrived while the child was answering, so the child answers it too
    result = session.subagents.wait(child.id)
    assert result.output == "second pass done" and result.turns_used == 2
    assert "also check types" in anthropic_agent.sent(1) and "also check types" not in anthropic_agent.sent(0)
    assert session.subagents.close(child.id) == "completed"
    assert child.session.state == SessionState.CLOSED
    assert child.id not in session.subagents.agents


def test_subagents_keep_independent_histories(anthropic_agent: AgentHarness) -> None:
    anthropic_agent.server.push(Reply(text="parent answer"))
    session = anthropic_agent.session()
    session.submit("PARENT-SECRET question")
    anthropic_agent.server.push(Reply(text="child answer"))
    child = session.subagents.spawn("child task")
    session.subagents.wait(child.id)
    assert "PARENT-SECRET" not in anthropic_agent.sent(1)
    assert [t.content for t in child.session.history if isinstance(t, UserTurn)] == ["child task"]


# -- 9.10 events -----------------------------------------------------------------------------------


def test_every_event_kind_is_emitted(anthropic_agent: AgentHarness) -> None:
    session = anthropic_agent.session(loop_detection_window=2, max_tool_rounds_per_input=3)
    session.profile.context_window_size = 50  # tiny, so the usage warning fires
    chunks = ["a" * 90 + "\n", "b\n"]
    session.profile.tool_registry.register(
        RegisteredTool(tool_definition("stream_lines", "", {}, []), lambda args, env: iter(chunks))
    )
    session.steer("be brief")
    anthropic_agent.server.push(
        *[Reply(text="step", tool_calls=[ToolUse("stream_lines", {})]) for _ in range(3)]
    )
    iterated: list[str] = []
    reader = threading.Thread(target=lambda: iterated.extend(e.kind.value for e in session.events()))
    reader.start()
    session.submit("go")
    anthropic_agent.server.push(Fail(401, "bad key"))
    with pytest.raises(AuthenticationError):
        session.submit("again")
    reader.join(5)
    assert {k.value for k in EventKind} == set(anthropic_agent.kinds())
    assert iterated == anthropic_agent.kinds()[1:]  # the iterator sees everything after it subscribed
    assert anthropic_agent.kinds()[0] == "session_start" and anthropic_agent.kinds()[-1] == "session_end"
    deltas = [e.data["delta"] for e in anthropic_agent.of_kind("tool_call_output_delta")]
    assert deltas[:2] == ["a" * 90 + "\n", "b\n"]


def test_events_serialise_for_the_run_log(anthropic_agent: AgentHarness) -> None:
    anthropic_agent.server.push(Reply(text="hi"))
    session = anthropic_agent.session()
    session.submit("hello")
    session.close()
    records = [e.to_dict() for e in anthropic_agent.events]
    assert [r["kind"] for r in records][-2:] == ["processing_end", "session_end"]
    assert all(set(r) == {"kind", "timestamp", "session_id", "data"} for r in records)
    import json

    json.dumps(records)


# -- 9.11 error handling ---------------------------------------------------------------------------


def test_transient_errors_are_retried(anthropic_agent: AgentHarness) -> None:
    anthropic_agent.server.push(
        Fail(429, "slow down", retry_after=0.01), Fail(503, "overloaded"), Reply(text="finally")
    )
    result = anthropic_agent.session(llm_retry_base_delay_s=0.01).submit("hi")
    assert result.text == "finally" and len(anthropic_agent.server.requests) == 3
    assert [e.data["code"] for e in anthropic_agent.of_kind("warning")] == ["llm_retry", "llm_retry"]


def test_authentication_errors_close_the_session_at_once(anthropic_agent: AgentHarness) -> None:
    anthropic_agent.server.push(Fail(401, "invalid x-api-key"))
    session = anthropic_agent.session()
    with pytest.raises(AuthenticationError):
        session.submit("hi")
    assert len(anthropic_agent.server.requests) == 1 and session.state == SessionState.CLOSED
    assert anthropic_agent.kinds()[-2:] == ["error", "session_end"]


def test_context_overflow_is_a_warning_and_the_session_continues(anthropic_agent: AgentHarness) -> None:
    anthropic_agent.server.push(
        Fail(400, "prompt is too long: 250000 tokens > 200000 maximum"), Reply(text="ok")
    )
    session = anthropic_agent.session()
    result = session.submit("huge")
    assert result.status == "error" and session.state == SessionState.IDLE
    assert anthropic_agent.of_kind("warning")[0].data["code"] == "context_length"
    assert session.submit("smaller").status == "completed"


# -- hooks -----------------------------------------------------------------------------------------


def test_pre_hooks_can_deny_and_steer_post_hooks_see_results(anthropic_agent: AgentHarness) -> None:
    seen: list[tuple[str, bool]] = []

    def guard(call: ToolCallInfo) -> HookDecision | None:
        if "rm -rf" in call.arguments.get("command", ""):
            return HookDecision.deny("destructive command", steer="Do not delete files; move them instead.")
        return None

    hooks = ToolHooks(pre=[guard], post=[lambda call, result: seen.append((call.tool_name, result.is_error))])
    session = Session(
        create_anthropic_profile(),
        anthropic_agent.env,
        anthropic_agent.client,
        hooks=hooks,
        listeners=[anthropic_agent.events.append],
    )
    (anthropic_agent.workspace / "keep.txt").write_text("precious")
    anthropic_agent.server.push(
        Reply(tool_calls=[ToolUse("shell", {"command": "rm -rf keep.txt"})]),
        Reply(tool_calls=[ToolUse("shell", {"command": "mv keep.txt kept.txt"})]),
        Reply(text="moved"),
    )
    session.submit("clean up")
    assert (anthropic_agent.workspace / "kept.txt").read_text() == "precious"
    assert (
        anthropic_agent.of_kind("tool_call_end")[0].data["error"] == "Tool call blocked: destructive command"
    )
    assert "move them instead" in anthropic_agent.sent(1)
    assert seen == [("shell", True), ("shell", False)]


def test_a_subagent_can_work_in_its_own_copy_on_write_workspace(
    anthropic_agent: AgentHarness, project: Path
) -> None:
    from shopfloor.sandbox.workspace import WorkspaceManager

    script = {
        "parent": [
            Reply(
                tool_calls=[
                    ToolUse(
                        "spawn_agent",
                        {
                            "task": "try a risky refactor",
                            "model": "claude-haiku-4-5",
                            "isolated_workspace": True,
                        },
                    )
                ]
            ),
            lambda req: Reply(
                tool_calls=[ToolUse("wait", {"agent_id": anthropic_agent.spawned_agent_id(req)})]
            ),
            lambda req: Reply(
                tool_calls=[
                    ToolUse(
                        "close_agent",
                        {"agent_id": anthropic_agent.spawned_agent_id(req), "keep_workspace": True},
                    )
                ]
            ),
            Reply(text="Kept the refactor as a candidate."),
        ],
        "child": [
            Reply(tool_calls=[ToolUse("write_file", {"file_path": "feature.py", "content": "X = 1\n"})]),
            Reply(text="Refactored."),
        ],
    }

    def route(req: Any) -> Any:
        item = script["child" if req.body.get("model") == "claude-haiku-4-5" else "parent"].pop(0)
        return item(req) if callable(item) else item

    anthropic_agent.server.default = route
    session = Session(
        create_anthropic_profile(),
        LocalExecutionEnvironment(project),
        anthropic_agent.client,
        listeners=[anthropic_agent.events.append],
    )
    manager = WorkspaceManager()
    try:
        result = session.submit("Delegate the risky refactor")
        assert result.text == "Kept the refactor as a candidate."
        assert not (project / "feature.py").exists()  # the parent's tree is untouched
        [kept] = [w for w in manager.list() if w.parent == session.id]
        assert kept.status == "kept" and (Path(kept.path) / "feature.py").read_text() == "X = 1\n"
        assert (Path(kept.path) / "AGENTS.md").exists()  # a copy of the repository at HEAD
        wait_output = next(
            e for e in anthropic_agent.of_kind("tool_call_end") if e.data["tool_name"] == "wait"
        )
        assert f"its own workspace {kept.name}" in wait_output.data["output"]
    finally:
        for workspace in manager.list():
            manager.discard(workspace.name)


def test_read_file_sends_images_to_multimodal_models(anthropic_agent: AgentHarness) -> None:
    import base64

    png = base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    )
    (anthropic_agent.workspace / "screenshot.png").write_bytes(png)
    anthropic_agent.server.push(
        Reply(tool_calls=[ToolUse("read_file", {"file_path": "screenshot.png"})]),
        Reply(text="A single pixel."),
    )
    anthropic_agent.session().submit("What is in screenshot.png?")
    body = anthropic_agent.server.requests[1].body
    [result] = [
        b
        for m in body["messages"]
        if isinstance(m["content"], list)
        for b in m["content"]
        if b.get("type") == "tool_result"
    ]
    image = next(part for part in result["content"] if part.get("type") == "image")
    assert image["source"]["media_type"] == "image/png"
    assert base64.b64decode(image["source"]["data"]) == png
    assert (
        anthropic_agent.of_kind("tool_call_end")[0].data["output"]
        == f"Image screenshot.png (image/png, {len(png)} bytes)"
    )


def test_abort_cancels_the_llm_call_and_closes_running_subagents(anthropic_agent: AgentHarness) -> None:
    session = anthropic_agent.session()
    anthropic_agent.server.push(Reply(text="child never finishes", delay=5))
    child = session.subagents.spawn("slow child", model="claude-haiku-4-5")
    anthropic_agent.server.push(Reply(text="too late", delay=5))
    time.sleep(0.2)  # the child's request is in flight first
    threading.Timer(0.3, session.abort).start()
    started = time.monotonic()
    result = session.submit("slow parent")
    assert result.status == "aborted" and time.monotonic() - started < 3
    assert child.session.state == SessionState.CLOSED and not session.subagents.agents
    ends = [e.session_id for e in anthropic_agent.of_kind("session_end")]
    assert ends == [child.session.id, session.id]  # children are cleaned up before the parent ends


def test_a_second_submit_while_processing_is_refused(anthropic_agent: AgentHarness) -> None:
    from shopfloor.agent.session import SessionBusyError

    anthropic_agent.server.push(Reply(text="slow", delay=0.5))
    session = anthropic_agent.session()
    worker = threading.Thread(target=session.submit, args=("first",))
    worker.start()
    time.sleep(0.1)
    with pytest.raises(SessionBusyError, match="use steer\\(\\) or follow_up\\(\\)"):
        session.submit("second")
    worker.join(5)
    assert session.state == SessionState.IDLE


def test_events_are_also_an_async_iterator(anthropic_agent: AgentHarness) -> None:
    import asyncio

    anthropic_agent.server.push(Reply(text="hi"))
    session = anthropic_agent.session()

    async def host() -> list[str]:
        stream = session.aevents()
        worker = asyncio.create_task(asyncio.to_thread(lambda: (session.submit("hello"), session.close())))
        kinds = [event.kind.value async for event in stream]
        await worker
        return kinds

    kinds = asyncio.run(host())
    assert kinds[0] == "user_input" and kinds[-2:] == ["processing_end", "session_end"]


def test_an_unknown_model_is_surfaced_and_closes_the_session(anthropic_agent: AgentHarness) -> None:
    from shopfloor.agent.profiles import create_profile
    from shopfloor.llm.errors import UnknownModelError

    session = Session(
        create_profile("anthropic", "claude-imaginary-9"),
        anthropic_agent.env,
        anthropic_agent.client,
        listeners=[anthropic_agent.events.append],
    )
    with pytest.raises(UnknownModelError, match="claude-imaginary-9"):
        session.submit("hi")
    assert session.state == SessionState.CLOSED and not anthropic_agent.server.requests
    assert anthropic_agent.of_kind("error")[0].data["error_type"] == "UnknownModelError"


def test_a_command_killed_by_a_sandbox_limit_says_which(anthropic_agent: AgentHarness) -> None:
    from shopfloor.sandbox.bwrap import SandboxedExecutionEnvironment
    from shopfloor.sandbox.policy import SandboxPolicy

    env = SandboxedExecutionEnvironment(anthropic_agent.workspace, SandboxPolicy(max_file_size_mb=1))
    env.initialize()
    try:
        session = Session(
            create_anthropic_profile(), env, anthropic_agent.client, listeners=[anthropic_agent.events.append]
        )
        anthropic_agent.server.push(
            Reply(tool_calls=[ToolUse("shell", {"command": "head -c 5000000 /dev/zero > big"})]),
            Reply(text="too big"),
        )
        session.submit("make a big file")
    finally:
        env.cleanup()
    output = anthropic_agent.of_kind("tool_call_end")[0].data["output"]
    assert "[ERROR: Command was killed by the sandbox's file_size limit.]" in output
    assert "killed by the sandbox's file_size limit" in anthropic_agent.sent(1)


def test_a_listener_may_abort_the_session_from_inside_an_event(anthropic_agent: AgentHarness) -> None:
    anthropic_agent.server.push(Reply(text="done"))
    session = anthropic_agent.session()
    session.add_listener(lambda e: session.abort("brake") if e.kind == EventKind.PROCESSING_END else None)
    session.submit("go")
    assert session.state == SessionState.CLOSED
    assert anthropic_agent.of_kind("session_end")[0].data["reason"] == "brake"


def test_a_timed_out_command_that_ignores_sigterm_is_killed_after_the_grace(
    anthropic_agent: AgentHarness,
) -> None:
    command = "trap 'echo got TERM' TERM; echo started; while true; do sleep 0.1; done"
    anthropic_agent.server.push(
        Reply(tool_calls=[ToolUse("shell", {"command": command, "timeout_ms": 300})]), Reply(text="it hung")
    )
    started = time.monotonic()
    anthropic_agent.session().submit("run the stubborn thing")
    elapsed = time.monotonic() - started
    output = anthropic_agent.of_kind("tool_call_end")[0].data["output"]
    assert output.startswith("started\ngot TERM\n")  # SIGTERM first, which the command ignored
    assert "[ERROR: Command timed out after 300ms." in output and "Exit code: 137" in output
    assert 2.0 <= elapsed < 6  # then SIGKILL after the 2 s grace


def test_an_openai_compatible_server_gets_the_compat_profile(anthropic_agent: AgentHarness) -> None:
    from shopfloor.agent.profiles import COMPAT_PROFILE, profile_for
    from shopfloor.llm.client import Client

    client = Client.from_env(
        {
            "SHOPFLOOR_OPENAI_COMPAT_BASE_URL": anthropic_agent.server.compat_base_url,
            "SHOPFLOOR_OPENAI_COMPAT_MODEL": "qwen2.5-coder:7b",
        }
    )
    profile = profile_for(client)
    assert profile.id == COMPAT_PROFILE and profile.model == "qwen2.5-coder:7b"
    assert profile.provider in client.providers and profile.provider_options() is None
    (anthropic_agent.workspace / "a.py").write_text("x = 1\n")
    anthropic_agent.server.push(
        Reply(
            tool_calls=[
                ToolUse("edit_file", {"file_path": "a.py", "old_string": "x = 1", "new_string": "x = 2"})
            ]
        ),
        Reply(text="edited"),
    )
    Session(profile, anthropic_agent.env, client).submit("set x to 2")
    assert (anthropic_agent.workspace / "a.py").read_text() == "x = 2\n"
    assert [(r.provider, r.body["model"]) for r in anthropic_agent.server.requests] == [
        ("chat", "qwen2.5-coder:7b")
    ] * 2
    with pytest.raises(ValueError, match="unknown provider 'mistral'"):
        profile_for(client, "mistral")
    client.close()


def test_a_subagent_scoped_to_a_subdirectory_works_there(anthropic_agent: AgentHarness) -> None:
    (anthropic_agent.workspace / "pkg").mkdir()
    (anthropic_agent.workspace / "pkg/mod.py").write_text("A = 1\n")
    session = anthropic_agent.session()
    anthropic_agent.server.push(
        Reply(
            tool_calls=[
                ToolUse("read_file", {"file_path": "mod.py"}),
                ToolUse("write_file", {"file_path": "new.py", "content": "B = 2\n"}),
                ToolUse("shell", {"command": "pwd"}),
            ]
        ),
        Reply(text="done in pkg"),
    )
    child = session.subagents.spawn("work in pkg", working_dir="pkg")
    assert session.subagents.wait(child.id).output == "done in pkg"
    outputs = {e.data["tool_name"]: e.data["output"] for e in anthropic_agent.of_kind("tool_call_end")}
    assert outputs["read_file"] == "  1 | A = 1"
    assert outputs["shell"].startswith(f"{anthropic_agent.workspace}/pkg\n")
    assert (anthropic_agent.workspace / "pkg/new.py").read_text() == "B = 2\n"
    with pytest.raises(ToolError, match="working_dir nowhere does not exist"):
        session.subagents.spawn("x", working_dir="nowhere")
