"""The `agent` codergen backend: one coding-agent Session per codergen node.

Model and provider come from the node's (stylesheet-resolved) attributes
`llm_model`, `llm_provider` and `reasoning_effort` (default "high", attractor
spec 2.6), else from `[agent]` in shopfloor.toml / the backend options. The
session works in the sandbox by default (`environment = "local"` opts out) and
every SessionEvent goes to `scope.emit` as `agent.<kind>` with the node id, so
the run's events.jsonl and the brake see each tool call. Node attributes
`tool_hooks.pre` / `tool_hooks.post` (attractor spec 9.7) run around each tool
call; each function in SESSION_PLUGINS gets the session before it starts
(govern puts it under the run's budget, policy and brake there).
"""

from __future__ import annotations

import importlib
import threading
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shopfloor.agent.config import SessionConfig
from shopfloor.agent.events import SessionEvent
from shopfloor.agent.hooks import CommandHook, ToolHooks
from shopfloor.agent.profiles import profile_for
from shopfloor.agent.session import Session
from shopfloor.errors import UserError
from shopfloor.llm.client import Client
from shopfloor.pipeline.context import Context
from shopfloor.pipeline.executor import RunStopped
from shopfloor.pipeline.graph import Node
from shopfloor.pipeline.outcome import Outcome, StageStatus
from shopfloor.pipeline.scope import RunScope
from shopfloor.workers.execution import (
    DEFAULT_ENVIRONMENT_KIND,
    DEFAULT_REVISION,
    DEFAULT_WORKSPACE_MODE,
    SharedEnvironment,
)

#: attractor-spec 2.6: a codergen node's reasoning effort when nothing sets one.
DEFAULT_NODE_REASONING_EFFORT = "high"
#: A node's session stops after this many LLM turns unless `[agent] max_turns` says otherwise.
DEFAULT_NODE_MAX_TURNS = 200
#: How often the stop watcher checks whether the node's session has finished.
STOP_POLL_S = 0.2

#: "module:function" entries; function(scope, node, session) puts each node's session under governance
#: (budget-metered client, policy and brake hooks, event listener) before it starts.
SESSION_PLUGINS: list[str] = ["shopfloor.govern.wiring:govern_session"]


def _node_session_defaults() -> SessionConfig:
    return SessionConfig(max_turns=DEFAULT_NODE_MAX_TURNS)


class AgentSettings(BaseModel):
    """`[agent]` in shopfloor.toml; backend options of the same names take precedence.

    `[agent.session]` takes any SessionConfig key (max_turns, tool_output_limits,
    loop_detection_window, max_subagent_depth, ...); a node's reasoning_effort wins over it.
    """

    model_config = ConfigDict(extra="forbid")

    provider: str | None = None
    model: str | None = None
    environment: str = DEFAULT_ENVIRONMENT_KIND
    workspace: str | None = None
    workspace_mode: str = DEFAULT_WORKSPACE_MODE
    revision: str = DEFAULT_REVISION
    session: SessionConfig = Field(default_factory=_node_session_defaults)

    @field_validator("session", mode="before")
    @classmethod
    def _node_defaults(cls, value: Any) -> Any:
        # keys left out of [agent.session] keep the node defaults (max_turns=200), not SessionConfig's
        return {"max_turns": DEFAULT_NODE_MAX_TURNS, **value} if isinstance(value, dict) else value


class AgentBackend:
    def __init__(self, scope: RunScope, options: dict[str, Any], client: Client | None = None) -> None:
        self.scope = scope
        merged = {**scope.config.data.get("agent", {}), **{k: v for k, v in options.items() if v is not None}}
        try:
            self.settings = AgentSettings.model_validate(merged)
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(part) for part in ("agent", *error["loc"]))
            message = error["msg"].removeprefix("Value error, ")
            raise UserError(f"invalid agent setting: {message}", where=f"[{where}] (or backend option)",
                            fix="see the [agent] section in docs/agent.md") from None
        self._client = client
        self._environment = SharedEnvironment(scope, self.settings.model_dump(
            include={"environment", "workspace", "workspace_mode", "revision"}))
        # Parallel branches run nodes concurrently: the client is made once.
        self._lock = threading.Lock()

    @property
    def client(self) -> Client:
        with self._lock:
            if self._client is None:
                self._client = Client.from_env()
                self.scope.resources.callback(self._client.close)
            return self._client

    def _hooks(self, node: Node, context: Context) -> ToolHooks:
        """attractor-spec 9.7: the node's tool_hooks.pre/post, else the graph's (mirrored as graph.*)."""
        hooks = ToolHooks()
        for key, target in (("tool_hooks.pre", hooks.pre), ("tool_hooks.post", hooks.post)):
            command = node.str_attr(key) or context.get_string(f"graph.{key}")
            if command:
                hook = CommandHook(command, on_failure=lambda msg: self.scope.emit(
                    "agent.hook_failed", {"node_id": node.id, "message": msg}))
                target.append(hook.pre if key.endswith("pre") else hook.post)  # type: ignore[arg-type]
        return hooks

    def build_session(self, node: Node, context: Context | None = None) -> Session:
        try:
            profile = profile_for(self.client, node.str_attr("llm_provider") or self.settings.provider,
                                  node.str_attr("llm_model") or self.settings.model)
        except ValueError as exc:
            raise UserError(str(exc), where=f"node {node.id}",
                            fix="set llm_provider/llm_model on the node or in the model_stylesheet") from None
        effort = (node.str_attr("reasoning_effort") or self.settings.session.reasoning_effort
                  or DEFAULT_NODE_REASONING_EFFORT)
        try:
            config = self.settings.session.model_copy()
            config.reasoning_effort = effort  # validated on assignment
        except ValidationError as exc:
            raise UserError(exc.errors()[0]["msg"].removeprefix("Value error, "),
                            where=f"node {node.id} reasoning_effort",
                            fix="use low, medium or high") from None

        def forward(event: SessionEvent) -> None:
            self.scope.emit(f"agent.{event.kind.value}", {**event.to_dict(), "node_id": node.id})

        hooks = self._hooks(node, context or Context())
        session = Session(profile, self._environment.get(context), self.client, config, hooks=hooks,
                          listeners=[forward])
        for spec in SESSION_PLUGINS:
            module, _, func = spec.partition(":")
            getattr(importlib.import_module(module), func)(self.scope, node, session)
        return session

    def run(self, node: Node, prompt: str, context: Context) -> str | Outcome:
        session = self.build_session(node, context)
        done = threading.Event()

        def watch_stop() -> None:  # the emergency stop aborts the session mid-turn
            while not done.wait(STOP_POLL_S):
                if self.scope.stop_requested.is_set():
                    session.abort("run stop requested")
                    return

        watcher = threading.Thread(target=watch_stop, name=f"agent-stop-{node.id}", daemon=True)
        watcher.start()
        try:
            result = session.submit(prompt)
        finally:
            done.set()
            watcher.join()
            session.close()
        if result.status == "aborted":
            if self.scope.stop_requested.is_set():
                raise RunStopped(node.id)
            return Outcome(StageStatus.FAIL, failure_reason=f"agent session aborted: {result.error}")
        if result.status == "turn_limit":
            return Outcome(StageStatus.FAIL, notes=result.text,
                           failure_reason=f"agent stopped at its turn limit after {result.turns} turns "
                                          f"and {result.tool_rounds} tool rounds")
        if result.status == "error":
            return Outcome(StageStatus.FAIL, failure_reason=f"agent session failed: {result.error}")
        return result.text


def create_backend(scope: RunScope, options: dict[str, Any]) -> AgentBackend:
    return AgentBackend(scope, dict(options))
