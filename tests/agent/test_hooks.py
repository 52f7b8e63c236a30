"""Tool hooks: attractor-spec 9.7 shell-command hooks, run as real subprocesses."""

from __future__ import annotations

import json
from pathlib import Path

from shopfloor.agent.hooks import CommandHook, HookDecision, ToolCallInfo, ToolCallResult, ToolHooks

CALL = ToolCallInfo("s1", "call-1", "shell", {"command": "rm -rf build"}, "/tmp", 0)


def test_a_pre_hook_command_sees_the_call_and_its_exit_code_decides(tmp_path: Path) -> None:
    seen = tmp_path / "seen.json"
    allow = CommandHook(f"cat > {seen}; test \"$SHOPFLOOR_TOOL_NAME\" = shell")
    assert allow.pre(CALL).allow
    assert json.loads(seen.read_text())["arguments"] == {"command": "rm -rf build"}
    failures: list[str] = []
    deny = CommandHook("echo 'rm is not allowed here' >&2; exit 7", on_failure=failures.append)
    decision = deny.pre(CALL)
    assert not decision.allow and decision.reason.endswith("exited 7: rm is not allowed here")
    assert failures == [decision.reason]


def test_a_post_hook_gets_the_result_and_never_blocks(tmp_path: Path) -> None:
    log = tmp_path / "post.json"
    CommandHook(f"cat > {log}").post(CALL, ToolCallResult("removed", False, 12))
    assert json.loads(log.read_text())["output"] == "removed"
    failures: list[str] = []
    CommandHook("exit 1", on_failure=failures.append).post(CALL, ToolCallResult("x", True, 1))
    assert failures == ["post-hook `exit 1` exited 1"]


def test_a_hung_hook_times_out_and_counts_as_a_denial() -> None:
    decision = CommandHook("sleep 10", timeout_s=0.2).pre(CALL)
    assert not decision.allow and "timed out after 0.2s" in decision.reason


def test_pre_hooks_run_in_order_first_denial_wins_and_steers_combine() -> None:
    order: list[str] = []

    def first(call: ToolCallInfo) -> HookDecision:
        order.append("first")
        return HookDecision(True, steer="prefer git mv")

    def second(call: ToolCallInfo) -> HookDecision:
        order.append("second")
        return HookDecision.deny("destructive", steer="never rm -rf")

    def third(call: ToolCallInfo) -> None:
        order.append("third")

    decision = ToolHooks(pre=[first, second, third]).before(CALL)
    assert order == ["first", "second"]
    assert (decision.allow, decision.reason) == (False, "destructive")
    assert decision.steer == "prefer git mv\nnever rm -rf"
