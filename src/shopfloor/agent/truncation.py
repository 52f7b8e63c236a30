"""Tool output truncation (coding-agent-loop-spec 5.1-5.3).

The model sees a bounded view of every tool's output; the host sees it all
(TOOL_CALL_END carries the untruncated text). Characters are cut first because
a two-line file of 10 MB lines would sail through a line limit; lines are cut
second, for readability.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

TruncationMode = Literal["head_tail", "tail"]

#: spec 5.2: per-tool character limits (override with SessionConfig.tool_output_limits).
DEFAULT_TOOL_CHAR_LIMITS: dict[str, int] = {
    "read_file": 50_000,
    "read_many_files": 50_000,
    "shell": 30_000,
    "grep": 20_000,
    "glob": 20_000,
    "list_dir": 20_000,
    "edit_file": 10_000,
    "apply_patch": 10_000,
    "write_file": 1_000,
    "spawn_agent": 20_000,
    "wait": 20_000,
}
#: Limit for tools without an entry above (custom tools, send_input, close_agent, ...).
DEFAULT_FALLBACK_CHAR_LIMIT = 30_000

DEFAULT_TRUNCATION_MODES: dict[str, TruncationMode] = {
    "read_file": "head_tail",
    "read_many_files": "head_tail",
    "shell": "head_tail",
    "grep": "tail",
    "glob": "tail",
    "list_dir": "tail",
    "edit_file": "tail",
    "apply_patch": "tail",
    "write_file": "tail",
    "spawn_agent": "head_tail",
    "wait": "head_tail",
}
DEFAULT_FALLBACK_MODE: TruncationMode = "head_tail"

#: spec 5.3: line limits applied after the character limit; absent means none.
DEFAULT_TOOL_LINE_LIMITS: dict[str, int] = {
    "shell": 256,
    "grep": 200,
    "glob": 500,
}


def truncate_output(output: str, max_chars: int, mode: TruncationMode) -> str:
    """Cut `output` to about `max_chars`, saying how much went and where the rest is."""
    if len(output) <= max_chars:
        return output
    removed = len(output) - max_chars
    if mode == "tail":
        return (
            f"[WARNING: Tool output was truncated. First {removed} characters were removed. "
            "The full output is available in the event stream.]\n\n" + output[-max_chars:]
        )
    half = max_chars // 2
    tail = output[-half:] if half else ""
    return (
        output[:half]
        + f"\n\n[WARNING: Tool output was truncated. {removed} characters were removed from the middle. "
        "The full output is available in the event stream. "
        "If you need to see specific parts, re-run the tool with more targeted parameters.]\n\n" + tail
    )


def truncate_lines(output: str, max_lines: int) -> str:
    """Keep the first and last lines of `output`, marking how many were omitted."""
    lines = output.split("\n")
    if len(lines) <= max_lines:
        return output
    head_count = max_lines // 2
    tail_count = max_lines - head_count
    omitted = len(lines) - head_count - tail_count
    tail = lines[-tail_count:] if tail_count else []
    return "\n".join(lines[:head_count]) + f"\n[... {omitted} lines omitted ...]\n" + "\n".join(tail)


def truncate_tool_output(
    output: str,
    tool_name: str,
    char_limits: Mapping[str, int] | None = None,
    line_limits: Mapping[str, int | None] | None = None,
) -> str:
    """The full pipeline: characters first (always), then lines (where a limit is set)."""
    char_limits = char_limits or {}
    line_limits = line_limits or {}
    max_chars = char_limits.get(
        tool_name, DEFAULT_TOOL_CHAR_LIMITS.get(tool_name, DEFAULT_FALLBACK_CHAR_LIMIT)
    )
    mode = DEFAULT_TRUNCATION_MODES.get(tool_name, DEFAULT_FALLBACK_MODE)
    result = truncate_output(output, max_chars, mode)
    max_lines = (
        line_limits[tool_name] if tool_name in line_limits else DEFAULT_TOOL_LINE_LIMITS.get(tool_name)
    )
    if max_lines:  # None or 0: no line limit for this tool
        result = truncate_lines(result, max_lines)
    return result
