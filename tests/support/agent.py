"""Driving real coding-agent Sessions against the scripted provider server, one provider at a time.

    def test_x(agent: AgentHarness):          # parametrize "agent" over PROVIDERS (indirect)
        agent.server.push(Reply(tool_calls=[agent.write_call("a.py", "x = 1\\n")]), Reply(text="Done."))
        result = agent.session().submit("create a.py")
        assert (agent.workspace / "a.py").read_text() == "x = 1\\n"

The session talks to the server through the real LLM client and that provider's
native adapter; tools run in a LocalExecutionEnvironment on a temp workspace.
`agent.events` records every SessionEvent; `agent.sent(i)` is the i-th request
body as JSON text (to check what the model was shown).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from shopfloor.agent.config import SessionConfig
from shopfloor.agent.events import SessionEvent
from shopfloor.agent.profiles import create_profile
from shopfloor.agent.session import Session
from shopfloor.llm.client import Client
from shopfloor.sandbox.environment import LocalExecutionEnvironment
from tests.support.llm_server import RecordedRequest, Reply, ScriptedLLMServer, ToolUse

PROVIDERS = ("openai", "anthropic", "gemini")

#: A smaller sibling of each profile's default model, for subagents with a model override.
CHILD_MODELS = {"openai": "gpt-5.2-mini", "anthropic": "claude-haiku-4-5", "gemini": "gemini-3-flash-preview"}

_AGENT_ID = re.compile(r"Spawned subagent (\w+)")


def request_model(request: RecordedRequest) -> str:
    """The model a request asked for (Gemini puts it in the URL path)."""
    if request.provider == "gemini":
        return request.path.rsplit("/", 1)[-1].split(":", 1)[0]
    return str(request.body.get("model", ""))


@dataclass
class AgentHarness:
    provider: str
    server: ScriptedLLMServer
    workspace: Path
    client: Client
    env: LocalExecutionEnvironment
    events: list[SessionEvent] = field(default_factory=list)

    def session(self, config: SessionConfig | None = None, **config_fields: Any) -> Session:
        cfg = config or SessionConfig(**config_fields)
        return Session(
            create_profile(self.provider), self.env, self.client, cfg, listeners=[self.events.append]
        )

    # -- the provider's native tool calls -------------------------------------------------------
    def write_call(self, path: str, content: str) -> ToolUse:
        return ToolUse("write_file", {"file_path": path, "content": content})

    def edit_call(self, path: str, old: str, new: str) -> ToolUse:
        """An edit in the profile's own format: a v4a patch for OpenAI, edit_file elsewhere."""
        if self.provider == "openai":
            lines = "".join(f"-{line}\n" for line in old.splitlines()) + "".join(
                f"+{line}\n" for line in new.splitlines()
            )
            return ToolUse(
                "apply_patch",
                {"patch": f"*** Begin Patch\n*** Update File: {path}\n@@\n{lines}*** End Patch"},
            )
        return ToolUse("edit_file", {"file_path": path, "old_string": old, "new_string": new})

    # -- what happened --------------------------------------------------------------------------
    def kinds(self) -> list[str]:
        return [e.kind.value for e in self.events]

    def of_kind(self, kind: str) -> list[SessionEvent]:
        return [e for e in self.events if e.kind.value == kind]

    def sent(self, index: int) -> str:
        return json.dumps(self.server.requests[index].body)

    def spawned_agent_id(self, request: RecordedRequest) -> str:
        match = _AGENT_ID.search(json.dumps(request.body))
        assert match, "the request does not carry a spawn_agent result"
        return match.group(1)


def make_harness(provider: str, server: ScriptedLLMServer, tmp_path: Path) -> AgentHarness:
    env_vars = {k: v for k, v in server.env().items() if k.startswith(provider.upper())}
    client = Client.from_env(env_vars)
    workspace = tmp_path / "workspace"
    workspace.mkdir(exist_ok=True)
    return AgentHarness(provider, server, workspace, client, LocalExecutionEnvironment(workspace))


@pytest.fixture(scope="session")
def shared_llm_server() -> Iterator[ScriptedLLMServer]:
    """One scripted server for all agent tests (stopping one costs half a second)."""
    with ScriptedLLMServer() as server:
        yield server


def _harness(provider: str, server: ScriptedLLMServer, tmp_path: Path) -> Iterator[AgentHarness]:
    server.requests.clear()
    server.default = None
    harness = make_harness(provider, server, tmp_path)
    try:
        yield harness
    finally:
        harness.env.cleanup()
        harness.client.close()
    leftover = server.pending
    while server.pending:  # do not leak this test's script into the next one
        server._next(RecordedRequest("drain", "POST", "", {}, {}, {}, False))
    assert leftover == 0, f"{leftover} scripted replies were never requested"


@pytest.fixture(params=PROVIDERS)
def agent(request: pytest.FixtureRequest, shared_llm_server: ScriptedLLMServer,
          tmp_path: Path) -> Iterator[AgentHarness]:
    """One harness per provider profile (the test runs three times)."""
    yield from _harness(request.param, shared_llm_server, tmp_path)


@pytest.fixture
def anthropic_agent(shared_llm_server: ScriptedLLMServer, tmp_path: Path) -> Iterator[AgentHarness]:
    """A single-provider harness for behaviour that does not depend on the profile."""
    yield from _harness("anthropic", shared_llm_server, tmp_path)


__all__ = ["CHILD_MODELS", "PROVIDERS", "AgentHarness", "Reply", "ToolUse", "agent", "anthropic_agent",
           "make_harness", "request_model", "shared_llm_server"]
