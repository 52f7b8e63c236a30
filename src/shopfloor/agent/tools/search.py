"""grep and glob (spec 3.3): searching the workspace through the environment."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from shopfloor.agent.registry import RegisteredTool, tool_definition
from shopfloor.sandbox.environment import ExecutionEnvironment
from shopfloor.sandbox.files import DEFAULT_GREP_MAX_RESULTS, GrepOptions

GREP_OUTPUT_MODES = ("content", "files_with_matches", "count")
_MATCH_LINE = re.compile(r"^(.*?):(\d+):")


def grep(arguments: dict[str, Any], env: ExecutionEnvironment) -> str:
    options = GrepOptions(
        glob_filter=arguments.get("glob_filter"),
        case_insensitive=bool(arguments.get("case_insensitive", False)),
        max_results=int(arguments.get("max_results") or DEFAULT_GREP_MAX_RESULTS),
    )
    output = env.grep(arguments["pattern"], arguments.get("path") or env.working_directory(), options)
    if not output.strip():
        return "No matches found."
    mode = arguments.get("output_mode") or "content"
    if mode == "content":
        return output
    files = Counter(m.group(1) for line in output.splitlines() if (m := _MATCH_LINE.match(line)))
    if mode == "files_with_matches":
        return "\n".join(files)
    return "\n".join(f"{path}:{count}" for path, count in files.items())


def glob(arguments: dict[str, Any], env: ExecutionEnvironment) -> str:
    matches = env.glob(arguments["pattern"], arguments.get("path") or env.working_directory())
    return "\n".join(matches) if matches else "No files found."


def _grep_properties(with_output_mode: bool) -> dict[str, Any]:
    props: dict[str, Any] = {
        "pattern": {"type": "string", "description": "Regular expression to search for."},
        "path": {
            "type": "string",
            "description": "File or directory to search (default: working directory).",
        },
        "glob_filter": {
            "type": "string",
            "description": "Only search files matching this glob, e.g. '*.py'.",
        },
        "case_insensitive": {"type": "boolean", "description": "Ignore case (default false)."},
        "max_results": {
            "type": "integer",
            "minimum": 1,
            "description": f"Maximum matching lines (default {DEFAULT_GREP_MAX_RESULTS}).",
        },
    }
    if with_output_mode:
        props["output_mode"] = {
            "type": "string",
            "enum": list(GREP_OUTPUT_MODES),
            "description": "content (matching lines, default), files_with_matches, or count.",
        }
    return props


def grep_tool(with_output_mode: bool = False) -> RegisteredTool:
    return RegisteredTool(
        tool_definition(
            "grep",
            "Search file contents with a regular expression. Returns 'path:line:text' for each match.",
            _grep_properties(with_output_mode),
            ["pattern"],
        ),
        grep,
    )


GLOB = RegisteredTool(
    tool_definition(
        "glob",
        "Find files whose path matches a glob pattern (e.g. '**/*.py'); newest first.",
        {
            "pattern": {"type": "string", "description": "Glob pattern."},
            "path": {"type": "string", "description": "Base directory (default: working directory)."},
        },
        ["pattern"],
    ),
    glob,
)
