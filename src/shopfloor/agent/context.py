"""What the model is told about where it works (spec 6.3-6.5): environment, git, project docs.

Everything is gathered through the ExecutionEnvironment (so a sandboxed session
sees the sandbox's view) once, at session start.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from datetime import UTC, datetime

from shopfloor.agent.tools.common import read_whole_file
from shopfloor.sandbox.environment import ExecutionEnvironment

#: Recent commits listed in the git snapshot (spec 6.4: the last 5-10).
DEFAULT_GIT_LOG_COUNT = 8
#: How long the one git snapshot command may take.
GIT_SNAPSHOT_TIMEOUT_MS = 10_000
PROJECT_DOCS_TRUNCATION_MARKER = "[Project instructions truncated at {kb}KB]"

_GIT_SNAPSHOT = (
    "git rev-parse --is-inside-work-tree >/dev/null 2>&1 || exit 3; "
    'echo "@@root $(git rev-parse --show-toplevel)"; '
    'echo "@@branch $(git rev-parse --abbrev-ref HEAD 2>/dev/null)"; '
    "echo @@status; git status --porcelain 2>/dev/null; "
    "echo @@log; git log --oneline -n {count} 2>/dev/null"
)


@dataclass
class GitSnapshot:
    root: str
    branch: str
    modified: int = 0
    untracked: int = 0
    recent_commits: list[str] = field(default_factory=list)


def snapshot_git(env: ExecutionEnvironment, log_count: int = DEFAULT_GIT_LOG_COUNT) -> GitSnapshot | None:
    """Branch, short status counts and recent commits; None outside a git repository."""
    try:
        result = env.exec_command(_GIT_SNAPSHOT.format(count=log_count), GIT_SNAPSHOT_TIMEOUT_MS, None, None)
    except OSError:
        return None
    if result.exit_code != 0 or "@@root " not in result.stdout:
        return None
    snap = GitSnapshot(root="", branch="")
    section = ""
    for line in result.stdout.splitlines():
        if line.startswith("@@root "):
            snap.root = line[7:].strip()
        elif line.startswith("@@branch "):
            snap.branch = line[9:].strip()
        elif line in ("@@status", "@@log"):
            section = line
        elif section == "@@status" and line.strip():
            if line.startswith("??"):
                snap.untracked += 1
            else:
                snap.modified += 1
        elif section == "@@log" and line.strip():
            snap.recent_commits.append(line.strip())
    return snap


def environment_block(
    env: ExecutionEnvironment,
    git: GitSnapshot | None,
    model: str,
    knowledge_cutoff: str,
    today: datetime | None = None,
) -> str:
    lines = [
        "<environment>",
        f"Working directory: {env.working_directory()}",
        f"Is git repository: {'true' if git else 'false'}",
    ]
    if git:
        lines.append(f"Git branch: {git.branch}")
    lines += [
        f"Platform: {env.platform()}",
        f"OS version: {env.os_version()}",
        f"Today's date: {(today or datetime.now(UTC)).strftime('%Y-%m-%d')}",
        f"Model: {model}",
        f"Knowledge cutoff: {knowledge_cutoff}",
        "</environment>",
    ]
    if git:
        lines += [
            "",
            "<git>",
            f"Branch: {git.branch}",
            f"Status: {git.modified} modified, {git.untracked} untracked file(s)",
        ]
        if git.recent_commits:
            lines.append("Recent commits:")
            lines += [f"  {c}" for c in git.recent_commits]
        lines.append("</git>")
    return "\n".join(lines)


def _dirs_from_root(root: str, cwd: str) -> list[str]:
    root, cwd = posixpath.normpath(root), posixpath.normpath(cwd)
    rel = posixpath.relpath(cwd, root)
    if rel == "." or rel.startswith(".."):
        return [root] if rel == "." else [cwd]
    dirs = [root]
    for part in rel.split("/"):
        dirs.append(posixpath.join(dirs[-1], part))
    return dirs


def discover_project_docs(
    env: ExecutionEnvironment, file_names: tuple[str, ...], git_root: str | None, budget_bytes: int
) -> str:
    """Instruction files from the git root down to the working directory (deeper = later)."""
    cwd = env.working_directory()
    sections: list[str] = []
    for directory in _dirs_from_root(git_root or cwd, cwd):
        for name in file_names:
            path = posixpath.join(directory, name)
            try:
                if not env.file_exists(path):
                    continue
                text = read_whole_file(env, path).strip()
            except (OSError, ValueError):
                continue
            if text:
                sections.append(f"# Instructions from {path}\n\n{text}")
    docs = "\n\n".join(sections)
    encoded = docs.encode()
    if len(encoded) <= budget_bytes:
        return docs
    cut = encoded[:budget_bytes].decode("utf-8", errors="ignore")
    return cut + "\n" + PROJECT_DOCS_TRUNCATION_MARKER.format(kb=budget_bytes // 1024)
