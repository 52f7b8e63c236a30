"""Path globs as policy files write them (gitignore-like, no negation).

`*` matches within one path segment, `**` matches any number of segments
(including none), `?` matches one character. A pattern without a `/` matches the
file's name at any depth, so `conftest.py` protects every conftest. Paths are
compared relative to the workspace root, with `/` separators.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import PurePosixPath


def _translate(pattern: str) -> str:
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return "".join(out)


@lru_cache(maxsize=1024)
def compile_glob(pattern: str) -> re.Pattern[str]:
    """Compile one glob; anchored, and unanchored on the left when it has no `/`."""
    body = _translate(pattern.strip("/") if pattern.endswith("/") else pattern.lstrip("/"))
    if pattern.endswith("/"):  # "dir/" means everything under dir
        body += "/.*"
    if "/" not in pattern.rstrip("/"):
        body = "(?:.*/)?" + body
    return re.compile(f"^{body}$")


def normalize(path: str) -> str:
    """`./a//b/../c` → `a/c`; leading `/` kept off so absolute and relative compare alike."""
    parts: list[str] = []
    for part in PurePosixPath(path.replace("\\", "/")).parts:
        if part in ("", ".", "/"):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return "/".join(parts)


def workspace_relative(path: str, workspace: str) -> str:
    """`path` as the policy sees it: relative to the workspace, whether written absolute or not."""
    root = normalize(workspace)
    rel = normalize(path)
    if path.startswith("/") and root and (rel == root or rel.startswith(root + "/")):
        return rel[len(root) + 1:]
    return rel


def matches_any(path: str, patterns: tuple[str, ...] | list[str]) -> str | None:
    """The first pattern that matches `path` (workspace-relative), or None."""
    rel = normalize(path)
    for pattern in patterns:
        if compile_glob(pattern).match(rel):
            return pattern
    return None
