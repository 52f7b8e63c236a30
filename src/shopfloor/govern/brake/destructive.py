"""Destructive commands: shell commands the policy refuses (govern.commands), judged before they run."""

from __future__ import annotations

from shopfloor.govern.brake.steps import Step, ToolIntent, ToolStep
from shopfloor.govern.commands import check_command
from shopfloor.govern.policy import Policy

#: The workspace assumed when a replayed log does not say where the agent worked.
DEFAULT_REPLAY_WORKSPACE = "/workspace"


class DestructiveDetector:
    name = "destructive"
    advice = "That command was blocked and did not run; reach the goal without destructive operations."

    def __init__(self, policy: Policy, workspace: str = DEFAULT_REPLAY_WORKSPACE) -> None:
        self.policy = policy
        self.workspace = workspace
        self._judged: set[str] = set()

    def observe(self, step: Step) -> str | None:
        if not isinstance(step, ToolIntent | ToolStep) or step.name != "shell":
            return None
        if step.call_id in self._judged:
            return None
        self._judged.add(step.call_id)
        command = str(step.arguments.get("command", ""))
        verdict = check_command(command, self.policy, self.workspace)
        return None if verdict.allowed else f"blocked `{command[:200]}`: {verdict.reason}"
