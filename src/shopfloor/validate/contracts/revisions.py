"""Reading files as they were at a base revision (git), for compatibility checks."""

from __future__ import annotations

import subprocess
from pathlib import Path

from shopfloor.errors import UserError


def _git(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(project), *args], capture_output=True, text=True, timeout=60)


def check_revision(project: Path, revision: str) -> None:
    if _git(project, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}").returncode != 0:
        raise UserError(
            f"unknown base revision {revision!r}",
            where=str(project),
            fix="pass --base with a commit, branch or tag of this repository",
        )


def files_at(project: Path, revision: str, path: str) -> dict[str, str]:
    """{relative path: text} of the files under `path` at `revision` (empty when it did not exist)."""
    listed = _git(project, "ls-tree", "-r", "--name-only", revision, "--", path)
    out: dict[str, str] = {}
    for name in listed.stdout.splitlines():
        shown = _git(
            project, "show", f"{revision}:./{name}"
        )  # ./: relative to the project, not the repo root
        if shown.returncode == 0:
            out[name] = shown.stdout
    return out


def files_now(project: Path, path: str, suffixes: tuple[str, ...]) -> dict[str, str]:
    root = project / path
    if root.is_file():
        return {path: root.read_text(errors="replace")}
    return {
        str(p.relative_to(project)): p.read_text(errors="replace")
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.suffix in suffixes
    }


def changed_files(project: Path, revision: str) -> list[str]:
    """Files added or modified since `revision` (committed or not), relative to the project."""
    diff = _git(project, "diff", "--name-only", "--relative", "--diff-filter=AM", revision, "--")
    untracked = _git(project, "ls-files", "--others", "--exclude-standard")
    return sorted({*diff.stdout.splitlines(), *untracked.stdout.splitlines()})
