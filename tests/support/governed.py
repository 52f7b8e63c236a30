"""A real coding-agent Session under a SessionGovernor, talking to the scripted provider server.

    gov = governed(anthropic_agent)                 # default policy, a $5 budget, default brake
    anthropic_agent.server.default = lambda req: Reply(tool_calls=[ToolUse("shell", {"command": "ls"})])
    result = gov.run("list the files")              # submits until the governor stops the session
    assert gov.governor.stop_reason.startswith("brake: stuck")
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shopfloor.agent.session import Session, SessionResult
from shopfloor.config import ProjectFile
from shopfloor.govern.brake.config import BrakeConfig
from shopfloor.govern.budget import Budget
from shopfloor.govern.governor import AskHuman, SessionGovernor
from shopfloor.govern.policy import BudgetLimits, Policy, load_policy
from tests.support.agent import AgentHarness

#: The host gives up re-prompting a talking-only agent after this many inputs.
MAX_INPUTS = 12


@dataclass
class Governed:
    harness: AgentHarness
    governor: SessionGovernor
    session: Session
    budget: Budget
    emitted: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def run(self, task: str) -> SessionResult:
        """Submit `task`, then keep saying "continue" (as a backend re-prompting would) until stopped."""
        result = self.session.submit(task)
        inputs = 1
        while result.status in ("completed", "awaiting_input") and inputs < MAX_INPUTS \
                and self.governor.stop_reason is None and self.harness.server.default is not None:
            result = self.session.submit("continue")
            inputs += 1
        return result

    def rungs(self) -> list[tuple[str, str, str]]:
        """(event kind, detector, action) of every ladder rung the governor emitted."""
        return [(kind, data["detector"], data["action"]) for kind, data in self.emitted
                if kind.startswith("brake.")]

    @property
    def llm_calls(self) -> int:
        return len(self.harness.server.requests)


def governed(harness: AgentHarness, *, policy: Policy | None = None, limits: BudgetLimits | None = None,
             brake: BrakeConfig | None = None, ask_human: AskHuman | None = None,
             subagent_limits: BudgetLimits | None = None) -> Governed:
    budget = Budget("run", limits or BudgetLimits(usd=5.0))
    emitted: list[tuple[str, dict[str, Any]]] = []
    governor = SessionGovernor(policy or load_policy(ProjectFile(None, {})), budget.child("session"), brake,
                               emit=lambda kind, data: emitted.append((kind, data)), node_id="implement",
                               ask_human=ask_human, subagent_limits=subagent_limits)
    session = harness.session()
    governor.attach(session)
    return Governed(harness, governor, session, budget, emitted)
