"""apply_patch (spec 3.4, Appendix A): codex-rs's v4a patches, applied through the environment.

All operations are planned in memory first (later operations see earlier ones),
then written; a patch that does not fit leaves every file untouched.
"""

from __future__ import annotations

import shlex
from typing import Any

from shopfloor.agent.patch import (
    AddFile,
    DeleteFile,
    PatchApplyError,
    PatchParseError,
    UpdateFile,
    apply_hunks,
    parse_patch,
)
from shopfloor.agent.registry import RegisteredTool, ToolError, tool_definition
from shopfloor.agent.tools.common import read_whole_file
from shopfloor.sandbox.environment import ExecutionEnvironment

#: Deleting a file is a shell `rm` (the environment interface has no delete); it gets this long.
DELETE_TIMEOUT_MS = 10_000

_DELETED = None


class _Plan:
    """Pending file contents (None = deleted) layered over the environment."""

    def __init__(self, env: ExecutionEnvironment) -> None:
        self.env = env
        self.pending: dict[str, str | None] = {}

    def exists(self, path: str) -> bool:
        return self.pending[path] is not None if path in self.pending else self.env.file_exists(path)

    def read(self, path: str) -> str:
        if path in self.pending:
            content = self.pending[path]
            assert content is not None
            return content
        return read_whole_file(self.env, path)

    def commit(self) -> None:
        for path, content in self.pending.items():
            if content is not None:
                self.env.write_file(path, content)
        for path, content in self.pending.items():
            if content is None and self.env.file_exists(path):
                result = self.env.exec_command(f"rm -f -- {shlex.quote(path)}", DELETE_TIMEOUT_MS, None, None)
                if result.exit_code != 0:
                    raise ToolError(f"could not delete {path}: {result.stderr.strip()}")


def apply_patch(arguments: dict[str, Any], env: ExecutionEnvironment) -> str:
    try:
        operations = parse_patch(arguments["patch"])
    except PatchParseError as exc:
        raise ToolError(f"Invalid patch: {exc}") from None
    plan = _Plan(env)
    summary: list[str] = []
    for op in operations:
        if isinstance(op, AddFile):
            plan.pending[op.path] = op.content
            summary.append(f"A {op.path}")
        elif isinstance(op, DeleteFile):
            if not plan.exists(op.path):
                raise ToolError(f"cannot delete {op.path}: file not found")
            plan.pending[op.path] = _DELETED
            summary.append(f"D {op.path}")
        elif isinstance(op, UpdateFile):
            if not plan.exists(op.path):
                raise ToolError(f"cannot update {op.path}: file not found")
            try:
                updated = apply_hunks(plan.read(op.path), op.hunks, op.path)
            except PatchApplyError as exc:
                raise ToolError(
                    f"{exc}\nNo files were changed. Read the file and regenerate the patch."
                ) from None
            if op.move_to and op.move_to != op.path:
                plan.pending[op.move_to] = updated
                plan.pending[op.path] = _DELETED
                summary.append(f"R {op.path} -> {op.move_to}")
            else:
                plan.pending[op.path] = updated
                summary.append(f"M {op.path}")
    plan.commit()
    return "Success. Updated the following files:\n" + "\n".join(summary)


APPLY_PATCH = RegisteredTool(
    tool_definition(
        "apply_patch",
        "Apply code changes using the patch format. Supports creating, deleting, and modifying files in a "
        "single operation. The patch starts with '*** Begin Patch' and ends with '*** End Patch'; each file "
        "section starts with '*** Add File: <path>', '*** Delete File: <path>' or '*** Update File: <path>' "
        "(optionally followed by '*** Move to: <new path>'). Update hunks start with '@@ <context line>' and "
        "use ' ' for context, '-' for removed and '+' for added lines, with 3 lines of context around "
        "changes.",
        {"patch": {"type": "string", "description": "The patch content in v4a format."}},
        ["patch"],
    ),
    apply_patch,
)
