"""The `cli` codergen backend: an external agent CLI (claude, codex, gemini, aider) per node.

The node's prompt goes to the CLI in non-interactive mode inside the execution
environment (the sandbox by default), with a timeout; its stdout is the
node's response. Which CLI runs is the node attribute `agent_cli` (else the
backend option `cli`, else "claude"); `llm_model` becomes its `--model`.
A non-zero exit or a timeout fails the node with the CLI's last stderr lines.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any

from shopfloor.errors import UserError
from shopfloor.pipeline.context import Context
from shopfloor.pipeline.graph import Node
from shopfloor.pipeline.outcome import Outcome, StageStatus
from shopfloor.pipeline.scope import RunScope
from shopfloor.workers.execution import SharedEnvironment

#: Seconds a CLI may run when neither the node (`timeout`) nor the options (`timeout_s`) say.
DEFAULT_CLI_TIMEOUT_S = 600.0
DEFAULT_CLI = "claude"
#: Characters of stderr quoted in a failed node's failure_reason.
FAILURE_DETAIL_CHARS = 2000
#: The prompt travels as one argument of `bash -c`, which Linux caps at 128 KiB (MAX_ARG_STRLEN).
MAX_PROMPT_BYTES = 120 * 1024

#: argv per CLI; "{prompt}" is replaced by the node prompt. Non-interactive, auto-approving edits
#: (the sandbox is the boundary, not the CLI's own permission prompts).
CLI_COMMANDS: dict[str, list[str]] = {
    "claude": ["claude", "-p", "{prompt}", "--output-format", "text", "--permission-mode", "acceptEdits"],
    "codex": ["codex", "exec", "--full-auto", "--skip-git-repo-check", "{prompt}"],
    "gemini": ["gemini", "--yolo", "-p", "{prompt}"],
    "aider": ["aider", "--yes-always", "--no-auto-commits", "--message", "{prompt}"],
}


def build_command(cli: str, prompt: str, model: str | None) -> str:
    try:
        template = CLI_COMMANDS[cli]
    except KeyError:
        raise UserError(f"unknown agent CLI {cli!r}", where="node attribute agent_cli",
                        fix=f"use one of: {', '.join(CLI_COMMANDS)}") from None
    argv = [prompt if part == "{prompt}" else part for part in template]
    if model:
        argv += ["--model", model]
    return shlex.join(argv)


@dataclass
class CliBackend:
    scope: RunScope
    options: dict[str, Any]
    _environment: SharedEnvironment = field(init=False)

    def __post_init__(self) -> None:
        self._environment = SharedEnvironment(self.scope, self.options)

    def _timeout_s(self, node: Node) -> float:
        value = node.get("timeout") or self.options.get("timeout_s") or DEFAULT_CLI_TIMEOUT_S
        return float(value)

    def run(self, node: Node, prompt: str, context: Context) -> str | Outcome:
        cli = node.str_attr("agent_cli") or str(self.options.get("cli") or DEFAULT_CLI)
        if len(prompt.encode()) > MAX_PROMPT_BYTES:
            return Outcome(StageStatus.FAIL, failure_reason=(
                f"the prompt is {len(prompt.encode())} bytes; an agent CLI takes at most {MAX_PROMPT_BYTES} "
                "bytes on its command line — shorten the node prompt or use the agent backend"))
        command = build_command(cli, prompt, node.str_attr("llm_model") or None)
        timeout_s = self._timeout_s(node)
        env_vars = {str(k): str(v) for k, v in (self.options.get("env") or {}).items()}
        self.scope.emit("agent.cli.start", {"node_id": node.id, "cli": cli, "timeout_s": timeout_s})
        environment = self._environment.get(context)
        result = environment.exec_command(command, int(timeout_s * 1000), None, env_vars or None)
        self.scope.emit("agent.cli.end", {"node_id": node.id, "cli": cli, "exit_code": result.exit_code,
                                          "timed_out": result.timed_out, "duration_ms": result.duration_ms,
                                          "limit": result.limit})
        if result.timed_out:
            return Outcome(StageStatus.FAIL, failure_reason=f"{cli} timed out after {timeout_s:g}s")
        if result.exit_code != 0:
            detail = (result.stderr.strip() or result.stdout.strip())[-FAILURE_DETAIL_CHARS:]
            reason = f"{cli} exited {result.exit_code}" + (f" ({result.limit} limit)" if result.limit else "")
            return Outcome(StageStatus.FAIL, failure_reason=f"{reason}: {detail}" if detail else reason)
        return result.stdout


def create_backend(scope: RunScope, options: dict[str, Any]) -> CliBackend:
    return CliBackend(scope, dict(options))
