"""Hooks around every tool call: the approval point between VALIDATE and EXECUTE (spec 3.8, 8).

A pre-hook sees the call before it runs and may deny it (the model gets an
error result that says why) and/or ask for a steering message to be injected
after the current tool round. A post-hook sees the call and its full output
(for audit and detectors); it cannot change the result. govern plugs its policy
in here; `CommandHook` runs the attractor-spec 9.7 `tool_hooks.pre/post` shell
commands.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

#: attractor-spec 9.7 hook commands get this long before they count as failed.
DEFAULT_HOOK_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class ToolCallInfo:
    """What a hook knows about one tool call."""

    session_id: str
    call_id: str
    tool_name: str
    arguments: dict[str, Any]
    working_directory: str
    depth: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "call_id": self.call_id,
            "tool_name": self.tool_name,
            "arguments": self.arguments,
            "working_directory": self.working_directory,
            "depth": self.depth,
        }


@dataclass(frozen=True)
class HookDecision:
    allow: bool = True
    reason: str = ""
    #: Injected as a SteeringTurn after the current tool round (allowed or not).
    steer: str | None = None

    @classmethod
    def deny(cls, reason: str, steer: str | None = None) -> HookDecision:
        return cls(False, reason, steer)


ALLOW = HookDecision()


@dataclass(frozen=True)
class ToolCallResult:
    output: str
    is_error: bool
    duration_ms: int


class PreToolHook(Protocol):
    def __call__(self, call: ToolCallInfo) -> HookDecision | None: ...


class PostToolHook(Protocol):
    def __call__(self, call: ToolCallInfo, result: ToolCallResult) -> None: ...


@dataclass
class ToolHooks:
    """The hooks of one session (subagents inherit their parent's)."""

    pre: list[PreToolHook] = field(default_factory=list)
    post: list[PostToolHook] = field(default_factory=list)

    def before(self, call: ToolCallInfo) -> HookDecision:
        """Run pre-hooks in order; the first denial wins, steering messages are combined."""
        steers: list[str] = []
        for hook in self.pre:
            decision = hook(call) or ALLOW
            if decision.steer:
                steers.append(decision.steer)
            if not decision.allow:
                return HookDecision(False, decision.reason, "\n".join(steers) or None)
        return HookDecision(True, "", "\n".join(steers) or None)

    def after(self, call: ToolCallInfo, result: ToolCallResult) -> None:
        for hook in self.post:
            hook(call, result)


@dataclass
class CommandHook:
    """attractor-spec 9.7: a trusted shell command run on the host around each tool call.

    It gets the call as JSON on stdin and SHOPFLOOR_TOOL_NAME / SHOPFLOOR_TOOL_CALL_ID /
    SHOPFLOOR_SESSION_ID in its environment. As a pre-hook a non-zero exit skips the call
    (its stderr or stdout is the reason); as a post-hook the result is added to the JSON
    and failures are only reported through `on_failure`.
    """

    command: str
    timeout_s: float = DEFAULT_HOOK_TIMEOUT_S
    on_failure: Callable[[str], None] | None = None

    def _run(self, payload: dict[str, Any], call: ToolCallInfo) -> tuple[int, str]:
        env = dict(
            os.environ,
            SHOPFLOOR_TOOL_NAME=call.tool_name,
            SHOPFLOOR_TOOL_CALL_ID=call.call_id,
            SHOPFLOOR_SESSION_ID=call.session_id,
        )
        try:
            proc = subprocess.run(
                ["/bin/sh", "-c", self.command],
                input=json.dumps(payload),
                text=True,
                capture_output=True,
                env=env,
                timeout=self.timeout_s,
                cwd=call.working_directory if os.path.isdir(call.working_directory) else None,
            )
        except subprocess.TimeoutExpired:
            return 124, f"hook command timed out after {self.timeout_s:g}s: {self.command}"
        detail = (proc.stderr.strip() or proc.stdout.strip())[:500]
        return proc.returncode, detail

    def pre(self, call: ToolCallInfo) -> HookDecision:
        code, detail = self._run(call.to_dict(), call)
        if code == 0:
            return ALLOW
        reason = f"pre-hook `{self.command}` exited {code}" + (f": {detail}" if detail else "")
        if self.on_failure:
            self.on_failure(reason)
        return HookDecision.deny(reason)

    def post(self, call: ToolCallInfo, result: ToolCallResult) -> None:
        payload = call.to_dict() | {
            "output": result.output,
            "is_error": result.is_error,
            "duration_ms": result.duration_ms,
        }
        code, detail = self._run(payload, call)
        if code != 0 and self.on_failure:
            self.on_failure(f"post-hook `{self.command}` exited {code}" + (f": {detail}" if detail else ""))
