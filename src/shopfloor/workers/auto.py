"""The `auto` codergen backend: offline repair first, an LLM agent only when that is not enough.

Search-based repair costs no tokens, so it always gets the first attempt. When
it does not make every visible test pass and an LLM provider is configured in
the environment, the `agent` backend takes over from the partially repaired
workspace. With no provider, repair's outcome stands.
"""

from __future__ import annotations

from typing import Any

from shopfloor.llm.client import Client
from shopfloor.pipeline.context import Context
from shopfloor.pipeline.graph import Node
from shopfloor.pipeline.outcome import Outcome
from shopfloor.pipeline.scope import RunScope
from shopfloor.workers.agent import AgentBackend, AgentSettings
from shopfloor.workers.repair.backend import RepairBackend


class AutoBackend:
    def __init__(self, scope: RunScope, options: dict[str, Any]) -> None:
        self.scope = scope
        self.repair = RepairBackend(scope, options)
        self.agent: AgentBackend | None = None
        client = Client.from_env()
        if client.providers:
            self.agent = AgentBackend(scope, {k: v for k, v in options.items()
                                              if k in AgentSettings.model_fields}, client=client)
            scope.resources.callback(client.close)

    def run(self, node: Node, prompt: str, context: Context) -> str | Outcome:
        first = self.repair.run(node, prompt, context)
        if first.context_updates.get("repair.repaired") or self.agent is None:
            return first
        self.scope.emit("auto.escalated", {"node_id": node.id, "to": "agent", "reason": first.notes})
        context.apply_updates(first.context_updates)
        return self.agent.run(node, prompt, context)


def create_backend(scope: RunScope, options: dict[str, Any]) -> AutoBackend:
    return AutoBackend(scope, dict(options))
