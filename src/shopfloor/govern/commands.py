"""Deciding, before it runs, whether a shell command may run.

Two checks, in order: the policy's command rules (regexes; the first match
decides, so a project `allow` rule can exempt a command a default would
refuse), then a structural check that no recursive `rm` reaches outside the
workspace (a regex cannot know where the workspace is, and `rm -rf build/` is
fine while `rm -rf ../` is not).
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass
from pathlib import PurePosixPath

from shopfloor.govern.policy import Policy

#: Wrappers that run their arguments as a command; looked through to find `rm`.
_WRAPPERS = {"sudo", "env", "nohup", "time", "nice", "xargs", "command", "exec", "timeout"}
_SEPARATORS = re.compile(r"\|\||&&|[;|&\n]|\$\(|`|\(|\)")


@dataclass(frozen=True)
class CommandVerdict:
    allowed: bool
    reason: str = ""
    rule: str = ""


def _segments(command: str) -> list[list[str]]:
    out = []
    for part in _SEPARATORS.split(command):
        try:
            argv = shlex.split(part, comments=True)
        except ValueError:  # unbalanced quotes: fall back to whitespace, still inspect it
            argv = part.split()
        if argv:
            out.append(argv)
    return out


def _strip_wrappers(argv: list[str]) -> list[str]:
    while argv and (argv[0] in _WRAPPERS or ("=" in argv[0] and not argv[0].startswith("-"))):
        argv = argv[1:]
        while argv and argv[0].startswith("-"):  # wrapper options such as `sudo -u x`
            argv = argv[1:]
    return argv


def _escapes(target: str, workspace: PurePosixPath) -> bool:
    """True when removing `target` (relative to the workspace) could reach outside it or remove it whole."""
    if target.startswith(("~", "$")) or "$" in target:
        return True  # home or a variable: cannot prove it stays inside
    path = PurePosixPath(target)
    full = path if path.is_absolute() else workspace / path
    resolved = PurePosixPath(os.path.normpath(str(full)))
    # `dir/*` removes what is under dir: judge the directory itself as the target's parent.
    if any(ch in resolved.name for ch in "*?["):
        resolved = resolved.parent
        return not resolved.is_relative_to(workspace)
    return resolved == workspace or not resolved.is_relative_to(workspace)


def _rm_outside_workspace(command: str, workspace: str) -> str | None:
    root = PurePosixPath(os.path.normpath(workspace))
    for argv in _segments(command):
        argv = _strip_wrappers(argv)
        if not argv or PurePosixPath(argv[0]).name != "rm":
            continue
        flags = [a for a in argv[1:] if a.startswith("-") and a != "--"]
        recursive = any(f in ("--recursive",) or (not f.startswith("--") and ("r" in f or "R" in f))
                        for f in flags)
        targets = [a for a in argv[1:] if not a.startswith("-")]
        if recursive:
            for target in targets:
                if _escapes(target, root):
                    return target
    return None


def check_command(command: str, policy: Policy, workspace: str) -> CommandVerdict:
    """Allow or refuse `command` as it would run with `workspace` as its working directory."""
    for rule in policy.command_rules:
        if rule.matches(command):
            return CommandVerdict(rule.action == "allow", rule.reason, rule.pattern)
    target = _rm_outside_workspace(command, workspace)
    if target is not None:
        return CommandVerdict(False, f"recursive rm of {target!r} reaches outside the workspace",
                              "rm-outside-workspace")
    return CommandVerdict(True)
