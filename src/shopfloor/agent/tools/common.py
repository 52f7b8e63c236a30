"""Helpers the file-editing tools share."""

from __future__ import annotations

from shopfloor.sandbox.environment import ExecutionEnvironment

#: Passed as read_file's line limit when a tool needs a whole file (edits, patches).
WHOLE_FILE_LINES = 1 << 62


def read_whole_file(env: ExecutionEnvironment, path: str) -> str:
    return env.read_file(path, 1, WHOLE_FILE_LINES)
