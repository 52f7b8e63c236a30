"""Subagents (coding-agent-loop-spec 7): child sessions the model spawns, talks to, waits for and closes.

A child has its own history and turn limit, the parent's profile (or another
model of the same family) and the parent's environment — scoped to a
subdirectory when asked, or, with `isolated_workspace`, a copy-on-write
workspace of the parent's repository (shopfloor.sandbox.workspace) in an
environment of the same kind. Each child runs its input on a background thread
so the parent can spawn several and wait for them later. Depth is limited by
`SessionConfig.max_subagent_depth` (default 1: children cannot spawn).
"""

from __future__ import annotations

import posixpath
import threading
import uuid
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shopfloor.agent.registry import RegisteredTool, ToolError, tool_definition
from shopfloor.agent.scoped_environment import ScopedEnvironment
from shopfloor.errors import UserError
from shopfloor.sandbox.bwrap import SandboxedExecutionEnvironment
from shopfloor.sandbox.environment import ExecutionEnvironment, LocalExecutionEnvironment
from shopfloor.sandbox.workspace import Workspace, WorkspaceManager

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
    def __init__(self, agent_id: str, session: Session, workspace: Workspace | None = None) -> None:
        self.id = agent_id
        self.session = session
        #: The child's own copy-on-write workspace, when it asked for one.
        self.workspace = workspace
        self.status = SubAgentStatus.RUNNING
        self.result: SubAgentResult | None = None
        self._thread: threading.Thread | None = None

    def run(self, task: str) -> None:
        self.status = SubAgentStatus.RUNNING
        self.result = None
        self._thread = threading.Thread(target=self._run, args=(task,), name=f"subagent-{self.id}",
                                        daemon=True)
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

    def spawn(self, task: str, working_dir: str | None = None, model: str | None = None,
              max_turns: int = 0, isolated_workspace: bool = False) -> SubAgentHandle:
        from shopfloor.agent.session import Session  # the child is a Session too

        parent = self.parent
        if parent.depth >= parent.config.max_subagent_depth:
            limit = parent.config.max_subagent_depth
            raise ToolError(f"subagent depth limit reached (max_subagent_depth={limit}); "
                            "do this task yourself instead of spawning another agent")
        workspace: Workspace | None = None
        env: ExecutionEnvironment = parent.env
        if isolated_workspace:
            workspace, env = self._isolated_environment()
        if working_dir:
            if not env.file_exists(working_dir):
                raise ToolError(f"working_dir {working_dir} does not exist")
            env = ScopedEnvironment(env, working_dir)
        profile = parent.profile.with_model(model) if model else parent.profile
        config = parent.config.model_copy(update={"max_turns": max_turns})
        child = Session(profile, env, parent.client, config, hooks=parent.hooks, depth=parent.depth + 1,
                        listeners=[parent.forward_child_event])
        handle = SubAgentHandle(uuid.uuid4().hex[:12], child, workspace)
        self.agents[handle.id] = handle
        handle.run(task)
        return handle

    def _isolated_environment(self) -> tuple[Workspace, ExecutionEnvironment]:
        """A copy-on-write workspace of the parent's repository at HEAD, in the same kind of environment."""
        parent = self.parent
        parent.system_prompt()  # takes the git snapshot that says where the repository is
        if parent.git_root is None:
            raise ToolError("isolated_workspace needs the working directory to be inside a git repository")
        try:
            workspace = WorkspaceManager().create(parent.git_root, "HEAD", parent=parent.id)
        except UserError as exc:
            raise ToolError(f"cannot create a workspace: {exc.line()}") from None
        root = Path(workspace.path) / posixpath.relpath(parent.env.working_directory(), parent.git_root)
        env: ExecutionEnvironment
        if isinstance(parent.env, SandboxedExecutionEnvironment):
            env = SandboxedExecutionEnvironment(root, parent.env.policy)
        else:
            env = LocalExecutionEnvironment(root)
        env.initialize()
        return workspace, env

    def get(self, agent_id: str) -> SubAgentHandle:
        try:
            return self.agents[agent_id]
        except KeyError:
            known = ", ".join(self.agents) or "none"
            raise ToolError(f"no subagent with id {agent_id!r}; known: {known}") from None

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

    def close(self, agent_id: str, keep_workspace: bool = False) -> str:
        """Stop the child; its own workspace is discarded, or kept as a candidate when asked."""
        handle = self.get(agent_id)
        handle.session.abort()
        if handle.workspace is not None:
            handle.session.env.cleanup()  # its own environment: kill its commands now, not at their timeout
        handle.join(None)
        self.agents.pop(agent_id, None)
        if handle.workspace is not None:
            manager = WorkspaceManager()
            if keep_workspace:
                manager.keep(handle.workspace.name)
            else:
                manager.discard(handle.workspace.name)
        return handle.status.value

    def close_all(self) -> None:
        for agent_id in list(self.agents):
            self.close(agent_id)


def _spawn(arguments: dict[str, Any], env: ExecutionEnvironment, *, session: Session) -> str:
    handle = session.subagents.spawn(arguments["task"], arguments.get("working_dir"), arguments.get("model"),
                                     int(arguments.get("max_turns") or 0),
                                     bool(arguments.get("isolated_workspace", False)))
    return (f"Spawned subagent {handle.id} (status: {handle.status.value}). "
            "Call wait with this agent_id for its result.")


def _send_input(arguments: dict[str, Any], env: ExecutionEnvironment, *, session: Session) -> str:
    return session.subagents.send_input(arguments["agent_id"], arguments["message"])


def _wait(arguments: dict[str, Any], env: ExecutionEnvironment, *, session: Session) -> str:
    agent_id = arguments["agent_id"]
    handle = session.subagents.get(agent_id)
    result = session.subagents.wait(agent_id)
    status = "succeeded" if result.success else "failed"
    where = ""
    if handle.workspace is not None:
        where = (f" Its changes are in its own workspace {handle.workspace.name} at "
                 f"{handle.session.env.working_directory()}; close_agent with keep_workspace=true keeps it "
                 "as a candidate, otherwise it is discarded.")
    return f"Subagent {agent_id} {status} after {result.turns_used} turn(s).{where}\n\n{result.output}"


def _close(arguments: dict[str, Any], env: ExecutionEnvironment, *, session: Session) -> str:
    status = session.subagents.close(arguments["agent_id"], bool(arguments.get("keep_workspace", False)))
    return f"Subagent {arguments['agent_id']} closed (final status: {status})."


_AGENT_ID = {"agent_id": {"type": "string", "description": "The id returned by spawn_agent."}}

SUBAGENT_TOOLS = [
    RegisteredTool(tool_definition(
        "spawn_agent", "Spawn a subagent to handle a scoped task autonomously. It has its own conversation "
        "and shares this workspace (or gets its own copy with isolated_workspace). Returns its agent_id; "
        "call wait to get its result.",
        {"task": {"type": "string", "description": "Natural-language description of the task."},
         "working_dir": {"type": "string", "description": "Subdirectory to scope the agent to."},
         "model": {"type": "string", "description": "Model override (default: this agent's model)."},
         "max_turns": {"type": "integer", "minimum": 0, "description": "Turn limit (default 0, unlimited)."},
         "isolated_workspace": {"type": "boolean", "description": "Work in a copy-on-write copy of the "
                                "repository (at HEAD) instead of this workspace (default false)."}},
        ["task"]), _spawn, wants_session=True),
    RegisteredTool(tool_definition(
        "send_input", "Send a message to a subagent (steers a running one, resumes a finished one).",
        {**_AGENT_ID, "message": {"type": "string", "description": "The message."}},
        ["agent_id", "message"]), _send_input, wants_session=True),
    RegisteredTool(tool_definition(
        "wait", "Wait for a subagent to complete and return its result (output, success, turns used).",
        dict(_AGENT_ID), ["agent_id"]), _wait, wants_session=True),
    RegisteredTool(tool_definition(
        "close_agent", "Terminate a subagent. Its own workspace, if it has one, is discarded unless "
        "keep_workspace is true.",
        {**_AGENT_ID, "keep_workspace": {"type": "boolean", "description": "Keep the subagent's own "
                                         "workspace as a candidate (default false)."}},
        ["agent_id"]), _close, wants_session=True),
]
