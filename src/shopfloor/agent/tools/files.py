"""File tools: read_file, read_many_files, write_file, edit_file, list_dir (spec 3.3, 3.6).

All I/O goes through the ExecutionEnvironment, so the same tools work locally,
in the bubblewrap sandbox, or anywhere else an environment reaches.
"""

from __future__ import annotations

import base64
import posixpath
import shlex
from collections.abc import Iterator
from typing import Any

from shopfloor.agent.patch import LINE_NORMALIZERS
from shopfloor.agent.registry import RegisteredTool, ToolError, ToolOutput, tool_definition
from shopfloor.agent.tools.common import read_whole_file
from shopfloor.sandbox.environment import ExecutionEnvironment

#: spec 3.3: lines read when a read_file call names no limit.
DEFAULT_READ_LIMIT_LINES = 2000
#: Bytes sniffed for NUL to tell a binary file from text.
BINARY_SNIFF_BYTES = 8000
DEFAULT_LIST_DIR_DEPTH = 1
#: Images read_file returns as image data (spec 3.3), by extension; larger ones are refused.
IMAGE_MEDIA_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
                     ".webp": "image/webp"}
DEFAULT_MAX_IMAGE_BYTES = 5 * 1024 * 1024
#: Reading an image is a `base64` command in the environment (the interface reads only text).
IMAGE_READ_TIMEOUT_MS = 10_000


def number_lines(text: str, first_line: int) -> str:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    width = max(len(str(first_line + len(lines) - 1)), 3)
    return "\n".join(f"{n:>{width}} | {line}" for n, line in enumerate(lines, first_line))


def _require_file(env: ExecutionEnvironment, path: str) -> None:
    if not env.file_exists(path):
        raise ToolError(f"File not found: {path}")


def _read_image(env: ExecutionEnvironment, path: str, media_type: str) -> ToolOutput:
    result = env.exec_command(f"base64 -w0 -- {shlex.quote(path)}", IMAGE_READ_TIMEOUT_MS, None, None)
    if result.exit_code != 0:
        raise ToolError(f"cannot read image {path}: {result.stderr.strip()}")
    data = base64.b64decode(result.stdout.strip())
    if len(data) > DEFAULT_MAX_IMAGE_BYTES:
        raise ToolError(f"{path} is {len(data)} bytes; images above {DEFAULT_MAX_IMAGE_BYTES} bytes "
                        "are not sent")
    return ToolOutput(f"Image {path} ({media_type}, {len(data)} bytes)", data, media_type)


def read_file(arguments: dict[str, Any], env: ExecutionEnvironment) -> str | ToolOutput:
    path = arguments["file_path"]
    _require_file(env, path)
    media_type = IMAGE_MEDIA_TYPES.get(posixpath.splitext(path)[1].lower())
    if media_type:
        return _read_image(env, path, media_type)
    offset = max(int(arguments.get("offset") or 1), 1)
    limit = int(arguments.get("limit") or DEFAULT_READ_LIMIT_LINES)
    text = env.read_file(path, offset, limit)
    if "\x00" in text[:BINARY_SNIFF_BYTES]:
        raise ToolError(f"{path} is a binary file; inspect it with a shell command instead")
    if not text:
        return f"{path} is empty" if offset == 1 else f"{path} has fewer than {offset} lines"
    return number_lines(text, offset)


def read_many_files(arguments: dict[str, Any], env: ExecutionEnvironment) -> Iterator[str]:
    """gemini-cli's batch reader: each entry is a path or a glob pattern; streams one file at a time."""
    first = True
    for entry in arguments["paths"]:
        matches = [entry] if env.file_exists(entry) else env.glob(entry, env.working_directory())
        blocks = [f"--- {entry} ---\n[no file matches]"] if not matches else []
        for path in matches:
            try:
                blocks.append(f"--- {path} ---\n{read_whole_file(env, path)}")
            except ValueError as exc:  # binary files
                blocks.append(f"--- {path} ---\n[skipped: {exc}]")
        for block in blocks:
            yield ("" if first else "\n\n") + block
            first = False


def write_file(arguments: dict[str, Any], env: ExecutionEnvironment) -> str:
    path, content = arguments["file_path"], arguments["content"]
    existed = env.file_exists(path)
    env.write_file(path, content)
    verb = "Overwrote" if existed else "Created"
    return f"{verb} {path} ({len(content.encode())} bytes written)"


def _fuzzy_spans(content: str, old: str) -> list[tuple[int, int]]:
    """Character spans of whole-line regions matching `old` under looser comparisons."""
    lines = content.split("\n")
    old_lines = old.strip("\n").split("\n")
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)
    for norm in LINE_NORMALIZERS[1:]:
        wanted = [norm(x) for x in old_lines]
        normed = [norm(x) for x in lines]  # once per pass, not once per candidate window
        hits = [
            i for i in range(len(lines) - len(old_lines) + 1) if normed[i : i + len(old_lines)] == wanted
        ]
        if hits:
            return [(offsets[i], offsets[i + len(old_lines)] - 1) for i in hits]
    return []


def edit_file(arguments: dict[str, Any], env: ExecutionEnvironment) -> str:
    path = arguments["file_path"]
    old, new = arguments["old_string"], arguments["new_string"]
    replace_all = bool(arguments.get("replace_all", False))
    expected = arguments.get("expected_replacements")
    if old == new:
        raise ToolError("old_string and new_string are identical; nothing to change")
    _require_file(env, path)
    content = read_whole_file(env, path)
    if old == "":
        raise ToolError("old_string is empty; use write_file to create or overwrite a file")
    count = content.count(old)
    note = ""
    if count == 0:
        spans = _fuzzy_spans(content, old)
        if not spans:
            raise ToolError(
                f"old_string not found in {path}; read the file and copy the exact text to replace"
            )
        if len(spans) > 1 and not replace_all and expected is None:
            raise ToolError(
                f"old_string matches {len(spans)} places in {path} (after whitespace normalization); "
                "include more surrounding context to make it unique, or set replace_all"
            )
        for start, end in reversed(spans):
            content = content[:start] + new.strip("\n") + content[end:]
        count = len(spans)
        note = " (matched after whitespace/Unicode normalization)"
    else:
        if expected is not None and count != int(expected):
            raise ToolError(f"expected {expected} occurrence(s) of old_string in {path}, found {count}")
        if count > 1 and not replace_all and expected is None:
            raise ToolError(
                f"old_string occurs {count} times in {path}; include more surrounding context "
                "to make it unique, or set replace_all to true"
            )
        content = content.replace(old, new)
    env.write_file(path, content)
    return f"Edited {path}: {count} replacement{'s' if count != 1 else ''}{note}"


def list_dir(arguments: dict[str, Any], env: ExecutionEnvironment) -> str:
    path = arguments.get("path") or env.working_directory()
    depth = int(arguments.get("depth") or DEFAULT_LIST_DIR_DEPTH)
    entries = env.list_directory(path, depth)
    if not entries:
        return f"{path} is empty"
    lines = [
        f"{e.name}/" if e.is_dir else (f"{e.name} ({e.size} bytes)" if e.size is not None else e.name)
        for e in entries
    ]
    return "\n".join(lines)


def _path_param(description: str) -> dict[str, Any]:
    return {"type": "string", "description": description}


READ_FILE = RegisteredTool(
    tool_definition(
        "read_file",
        "Read a file from the filesystem. Returns line-numbered content ('NNN | line').",
        {
            "file_path": _path_param("Path to the file (absolute, or relative to the working directory)."),
            "offset": {
                "type": "integer",
                "minimum": 1,
                "description": "1-based line number to start reading from.",
            },
            "limit": {
                "type": "integer",
                "minimum": 1,
                "description": f"Maximum lines to read (default {DEFAULT_READ_LIMIT_LINES}).",
            },
        },
        ["file_path"],
    ),
    read_file,
)

READ_MANY_FILES = RegisteredTool(
    tool_definition(
        "read_many_files",
        "Read several files at once. Each entry is a path or a glob pattern; "
        "contents are returned one after another, each under a '--- path ---' header.",
        {
            "paths": {
                "type": "array",
                "items": {"type": "string"},
                "minItems": 1,
                "description": "Paths or glob patterns relative to the working directory.",
            }
        },
        ["paths"],
    ),
    read_many_files,
)

WRITE_FILE = RegisteredTool(
    tool_definition(
        "write_file",
        "Write content to a file. Creates the file and parent directories if needed; "
        "overwrites an existing file completely.",
        {
            "file_path": _path_param("Path of the file to write."),
            "content": {"type": "string", "description": "The full file content."},
        },
        ["file_path", "content"],
    ),
    write_file,
)

EDIT_FILE = RegisteredTool(
    tool_definition(
        "edit_file",
        "Replace an exact string occurrence in a file. old_string must match the file exactly "
        "(including indentation) and be unique unless replace_all is true. Read the file first.",
        {
            "file_path": _path_param("Path of the file to edit."),
            "old_string": {"type": "string", "description": "The exact text to find."},
            "new_string": {"type": "string", "description": "The replacement text."},
            "replace_all": {"type": "boolean", "description": "Replace every occurrence (default false)."},
        },
        ["file_path", "old_string", "new_string"],
    ),
    edit_file,
)

#: gemini-cli's `replace`: the same search-and-replace with an expected occurrence count.
GEMINI_EDIT_FILE = RegisteredTool(
    tool_definition(
        "edit_file",
        "Replace text within a file. old_string must be the exact literal text to replace, "
        "including whitespace and indentation, with enough context (at least 3 lines before and after) to "
        "identify a single occurrence. Use expected_replacements to replace several occurrences.",
        {
            "file_path": _path_param("Path of the file to modify."),
            "old_string": {"type": "string", "description": "The exact literal text to replace."},
            "new_string": {"type": "string", "description": "The exact literal text to replace it with."},
            "expected_replacements": {
                "type": "integer",
                "minimum": 1,
                "description": "Number of occurrences to replace (default 1).",
            },
        },
        ["file_path", "old_string", "new_string"],
    ),
    edit_file,
)

LIST_DIR = RegisteredTool(
    tool_definition(
        "list_dir",
        "List the entries of a directory (directories end with '/'), down to the given depth.",
        {
            "path": _path_param("Directory to list (default: the working directory)."),
            "depth": {
                "type": "integer",
                "minimum": 1,
                "description": f"How deep to recurse (default {DEFAULT_LIST_DIR_DEPTH}).",
            },
        },
        [],
    ),
    list_dir,
)
