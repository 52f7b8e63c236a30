"""Subagents (coding-agent-loop-spec 7): child sessions the model spawns, talks to, waits for and closes.

A child has its own history and turn limit, the parent's profile (or another
model of the same family) and the parent's environment — scoped to a
subdirectory when asked. Each child runs its input on a background thread so
the parent can spawn several and wait for them later. Depth is limited by
`SessionConfig.max_subagent_depth` (default 1: children cannot spawn).
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from shopfloor.agent.registry import RegisteredTool, ToolError, tool_definition
from shopfloor.sandbox.environment import ExecutionEnvironment

if TYPE_CHECKING:
    from shopfloor.agent.session import Session

#: How long `wait` blocks for a subagent before reporting it still running.
DEFAULT_SUBAGENT_WAIT_TIMEOUT_S = 600.0


class SubAgentStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


@dataclass
class SubAgentResult:
    output: str
    success: bool
    turns_used: int

    def to_dict(self) -> dict[str, Any]:
        return {"output": self.output, "success": self.success, "turns_used": self.turns_used}


class SubAgentHandle:
    def __init__(self, agent_id: str, session: Session) -> None:
        self.id = agent_id
        self.session = session
        self.status = SubAgentStatus.RUNNING
        self.result: SubAgentResult | None = None
        self._thread: threading.Thread | None = None

    def run(self, task: str) -> None:
        self.status = SubAgentStatus.RUNNING
        self.result = None
        self._thread = threading.Thread(
            target=self._run, args=(task,), name=f"subagent-{self.id}", daemon=True
        )
        self._thread.start()

    def _run(self, task: str) -> None:
        try:
            outcome = self.session.submit(task)
            self.result = SubAgentResult(outcome.text, outcome.status == "completed", outcome.turns)
            self.status = SubAgentStatus.COMPLETED if self.result.success else SubAgentStatus.FAILED
        except Exception as exc:  # the child's failure is a result for the parent, not a crash
            self.result = SubAgentResult(f"subagent failed: {exc}", False, self.session.turn_count())
            self.status = SubAgentStatus.FAILED

    def join(self, timeout_s: float | None) -> bool:
        if self._thread is not None:
            self._thread.join(timeout_s)
            return not self._thread.is_alive()
        return True


class SubAgentManager:
    """The children of one session."""

    def __init__(self, parent: Session) -> None:
        self.parent = parent
        self.agents: dict[str, SubAgentHandle] = {}

    def spawn(
        self, task: str, working_dir: str | None = None, model: str | None = None, max_turns: int = 0
    ) -> SubAgentHandle:
        from shopfloor.agent.session import Session  # the child is a Session too

        parent = self.parent
        if parent.depth >= parent.config.max_subagent_depth:
            raise ToolError(
                f"subagent depth limit reached (max_subagent_depth={parent.config.max_subagent_depth}); "
                "do this task yourself instead of spawning another agent"
            )
        env: ExecutionEnvironment = parent.env
        if working_dir:
            if not parent.env.file_exists(working_dir):
                raise ToolError(f"working_dir {working_dir} does not exist")
            env = ScopedEnvironment(parent.env, working_dir)
        profile = parent.profile.with_model(model) if model else parent.profile
        config = parent.config.model_copy(update={"max_turns": max_turns})
        child = Session(
            profile,
            env,
            parent.client,
            config,
            hooks=parent.hooks,
            depth=parent.depth + 1,
            listeners=[parent.forward_child_event],
        )
        handle = SubAgentHandle(uuid.uuid4().hex[:12], child)
        self.agents[handle.id] = handle
        handle.run(task)
        return handle

    def get(self, agent_id: str) -> SubAgentHandle:
        try:
            return self.agents[agent_id]
        except KeyError:
            raise ToolError(
                f"no subagent with id {agent_id!r}; known: {', '.join(self.agents) or 'none'}"
            ) from None

    def send_input(self, agent_id: str, message: str) -> str:
        handle = self.get(agent_id)
        if handle.status == SubAgentStatus.RUNNING:
            handle.session.steer(message)
            return f"Message queued for running subagent {agent_id}."
        if handle.session.state.value == "closed":
            raise ToolError(f"subagent {agent_id} is closed")
        handle.run(message)
        return f"Subagent {agent_id} resumed with the new message."

    def wait(self, agent_id: str, timeout_s: float = DEFAULT_SUBAGENT_WAIT_TIMEOUT_S) -> SubAgentResult:
        handle = self.get(agent_id)
        if not handle.join(timeout_s) or handle.result is None:
            raise ToolError(f"subagent {agent_id} is still running after {timeout_s:g}s")
        return handle.result

    def close(self, agent_id: str) -> str:
        handle = self.get(agent_id)
        handle.session.abort()
        handle.join(None)
        self.agents.pop(agent_id, None)
        return handle.status.value

    def close_all(self) -> None:
        for agent_id in list(self.agents):
            self.close(agent_id)


class ScopedEnvironment:
    """The parent's environment seen from a subdirectory: relative paths and commands start there."""

    def __init__(self, inner: ExecutionEnvironment, subdir: str) -> None:
        self.inner = inner
        base = inner.working_directory()
        self._cwd = subdir if subdir.startswith("/") else f"{base.rstrip('/')}/{subdir}"

    def _abs(self, path: str | None) -> str:
        if not path:
            return self._cwd
        return path if path.startswith("/") else f"{self._cwd}/{path}"

    def working_directory(self) -> str:
        return self._cwd

    def read_file(self, path: str, offset: int | None = None, limit: int | None = None) -> str:
        return self.inner.read_file(self._abs(path), offset, limit)

    def write_file(self, path: str, content: str) -> None:
        self.inner.write_file(self._abs(path), content)

    def file_exists(self, path: str) -> bool:
        return self.inner.file_exists(self._abs(path))

    def list_directory(self, path: str, depth: int = 1) -> Any:
        return self.inner.list_directory(self._abs(path), depth)

    def exec_command(
        self,
        command: str,
        timeout_ms: int,
        working_dir: str | None = None,
        env_vars: dict[str, str] | None = None,
    ) -> Any:
        return self.inner.exec_command(command, timeout_ms, self._abs(working_dir), env_vars)

    def grep(self, pattern: str, path: str | None, options: Any = None) -> str:
        return self.inner.grep(pattern, self._abs(path), options)

    def glob(self, pattern: str, path: str | None = None) -> list[str]:
        return self.inner.glob(pattern, self._abs(path))

    def initialize(self) -> None:
        """The parent owns the inner environment's lifecycle."""

    def cleanup(self) -> None:
        """The parent owns the inner environment's lifecycle."""

    def platform(self) -> str:
        return self.inner.platform()

    def os_version(self) -> str:
        return self.inner.os_version()


def _spawn(arguments: dict[str, Any], env: ExecutionEnvironment, *, session: Session) -> str:
    handle = session.subagents.spawn(
        arguments["task"],
        arguments.get("working_dir"),
        arguments.get("model"),
        int(arguments.get("max_turns") or 0),
    )
    return (f"Spawned subagent {handle.id} (status: {handle.status.value}). "
            "Call wait with this agent_id for its result.")


def _send_input(arguments: dict[str, Any], env: ExecutionEnvironment, *, session: Session) -> str:
    return session.subagents.send_input(arguments["agent_id"], arguments["message"])


def _wait(arguments: dict[str, Any], env: ExecutionEnvironment, *, session: Session) -> str:
    result = session.subagents.wait(arguments["agent_id"])
    status = "succeeded" if result.success else "failed"
    return f"Subagent {arguments['agent_id']} {status} after {result.turns_used} turn(s).\n\n{result.output}"


def _close(arguments: dict[str, Any], env: ExecutionEnvironment, *, session: Session) -> str:
    status = session.subagents.close(arguments["agent_id"])
    return f"Subagent {arguments['agent_id']} closed (final status: {status})."


_AGENT_ID = {"agent_id": {"type": "string", "description": "The id returned by spawn_agent."}}

SUBAGENT_TOOLS = [
    RegisteredTool(
        tool_definition(
            "spawn_agent",
            "Spawn a subagent to handle a scoped task autonomously. It has its own conversation "
            "and shares this workspace. Returns its agent_id; call wait to get its result.",
            {
                "task": {"type": "string", "description": "Natural-language description of the task."},
                "working_dir": {"type": "string", "description": "Subdirectory to scope the agent to."},
                "model": {"type": "string", "description": "Model override (default: this agent's model)."},
                "max_turns": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "Turn limit (default 0, unlimited).",
                },
            },
            ["task"],
        ),
        _spawn,
        wants_session=True,
    ),
    RegisteredTool(
        tool_definition(
            "send_input",
            "Send a message to a subagent (steers a running one, resumes a finished one).",
            {**_AGENT_ID, "message": {"type": "string", "description": "The message."}},
            ["agent_id", "message"],
        ),
        _send_input,
        wants_session=True,
    ),
    RegisteredTool(
        tool_definition(
            "wait",
            "Wait for a subagent to complete and return its result (output, success, turns used).",
            dict(_AGENT_ID),
            ["agent_id"],
        ),
        _wait,
        wants_session=True,
    ),
    RegisteredTool(
        tool_definition("close_agent", "Terminate a subagent.", dict(_AGENT_ID), ["agent_id"]),
        _close,
        wants_session=True,
    ),
]
