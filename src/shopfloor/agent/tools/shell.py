"""The shell tool (spec 3.3, 5.4): one command in the environment, bounded by a timeout."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shopfloor.agent.registry import RegisteredTool, tool_definition
from shopfloor.sandbox.environment import ExecResult, ExecutionEnvironment

if TYPE_CHECKING:
    from shopfloor.agent.session import Session


def timeout_message(timeout_ms: int) -> str:
    return (
        f"[ERROR: Command timed out after {timeout_ms}ms. Partial output is shown above.\n"
        "You can retry with a longer timeout by setting the timeout_ms parameter.]"
    )


def format_exec_result(result: ExecResult, timeout_ms: int) -> str:
    """stdout, then stderr, then what stopped the command, then its exit code and duration."""
    parts = [result.stdout.rstrip("\n")] if result.stdout else []
    if result.stderr:
        parts.append("[stderr]\n" + result.stderr.rstrip("\n"))
    if result.timed_out:
        parts.append(timeout_message(timeout_ms))
    elif result.limit:  # the sandbox killed it: say which limit, so the model does not just retry
        parts.append(f"[ERROR: Command was killed by the sandbox's {result.limit} limit.]")
    parts.append(f"Exit code: {result.exit_code} (duration {result.duration_ms}ms)")
    return "\n".join(parts)


def shell(arguments: dict[str, Any], env: ExecutionEnvironment, *, session: Session) -> str:
    timeout_ms = session.config.command_timeout_ms(
        arguments.get("timeout_ms"), session.profile.default_command_timeout_ms
    )
    return format_exec_result(env.exec_command(arguments["command"], timeout_ms, None, None), timeout_ms)


def shell_tool(description: str, default_timeout_ms_hint: int) -> RegisteredTool:
    return RegisteredTool(
        tool_definition(
            "shell",
            description,
            {
                "command": {"type": "string", "description": "The command to run (bash -c)."},
                "timeout_ms": {
                    "type": "integer",
                    "minimum": 1,
                    "description": f"Timeout in milliseconds (default {default_timeout_ms_hint}).",
                },
                "description": {
                    "type": "string",
                    "description": "A short description of what the command does.",
                },
            },
            ["command"],
        ),
        shell,
        wants_session=True,
    )
