"""What a tool call tells us about the work: files it changed and tests it ran.

Kept apart from the detectors so that each detector reads as a rule, not as a
parser: `file_edits` understands the agent's write_file / edit_file /
apply_patch tools and the shell commands that delete or rewrite files;
`parse_test_counts` reads the summary line of pytest, unittest, go test, jest/vitest
and cargo test.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FileEdit:
    path: str
    #: Full new content (write_file / Add File), else None.
    content: str | None = None
    old: str | None = None  # edit_file's replaced fragment
    new: str | None = None  # ...and its replacement
    lines_added: int = 0
    lines_removed: int = 0
    deleted: bool = False
    via_shell: bool = False


def _lines(text: str | None) -> int:
    return len(text.splitlines()) if text else 0


def _patch_edits(patch: str) -> list[FileEdit]:
    edits: list[FileEdit] = []
    path, added, removed, body, kind = None, 0, 0, [], ""

    def flush() -> None:
        if path is not None:
            text = "\n".join(body)
            edits.append(FileEdit(path, content=text + "\n" if kind == "add" else None,
                                  new=text if kind == "update" else None, lines_added=added,
                                  lines_removed=removed, deleted=kind == "delete"))

    for line in patch.splitlines():
        m = re.match(r"\*\*\* (Add|Update|Delete) File: (.+)", line)
        if m:
            flush()
            kind, path, added, removed, body = m.group(1).lower(), m.group(2).strip(), 0, 0, []
        elif path is not None and line.startswith("+") and not line.startswith("+++"):
            added += 1
            body.append(line[1:])
        elif path is not None and line.startswith("-") and not line.startswith("---"):
            removed += 1
    flush()
    return edits


#: Shell verbs that delete or rewrite the files named in their arguments.
_MUTATING = {"rm", "unlink", "truncate", "shred", "mv", "cp", "tee", "sed", "perl", "git"}


def _shell_edits(command: str) -> list[FileEdit]:
    edits: list[FileEdit] = []
    for segment in re.split(r"\|\||&&|[;|\n]", command):
        try:
            argv = shlex.split(segment)
        except ValueError:
            argv = segment.split()
        if not argv:
            continue
        for i, tok in enumerate(argv):  # redirections rewrite their target
            if tok in (">", ">>") and i + 1 < len(argv):
                edits.append(FileEdit(argv[i + 1], via_shell=True))
            elif re.fullmatch(r"\d?>>?\S+", tok):
                edits.append(FileEdit(tok.lstrip("0123456789>"), via_shell=True))
        verb = argv[0].rsplit("/", 1)[-1]
        if verb not in _MUTATING:
            continue
        args = [a for a in argv[1:] if not a.startswith("-")]
        if verb == "git":
            if args[:1] in (["rm"], ["checkout"], ["restore"]):
                edits += [FileEdit(a, deleted=args[0] == "rm", via_shell=True) for a in args[1:]]
            continue
        if verb in ("sed", "perl") and not any(a.startswith("-i") or a == "-pi" for a in argv[1:]):
            continue
        if verb in ("sed", "perl"):
            args = args[1:]  # the script, then the files
        targets = args[-1:] if verb == "cp" else args  # mv rewrites its target and removes its source
        edits += [FileEdit(a, deleted=verb in ("rm", "unlink", "shred"), via_shell=True) for a in targets]
    return edits


def file_edits(tool_name: str, arguments: dict[str, Any]) -> list[FileEdit]:
    """The files a tool call writes or deletes, as far as its arguments tell."""
    if tool_name == "write_file":
        content = str(arguments.get("content", ""))
        return [FileEdit(str(arguments.get("file_path", "")), content=content, lines_added=_lines(content))]
    if tool_name == "edit_file":
        old, new = str(arguments.get("old_string", "")), str(arguments.get("new_string", ""))
        return [FileEdit(str(arguments.get("file_path", "")), old=old, new=new,
                         lines_added=max(0, _lines(new) - _lines(old)),
                         lines_removed=max(0, _lines(old) - _lines(new)))]
    if tool_name == "apply_patch":
        return _patch_edits(str(arguments.get("patch") or arguments.get("input") or ""))
    if tool_name == "shell":
        return _shell_edits(str(arguments.get("command", "")))
    return []


@dataclass(frozen=True)
class PassFail:
    passed: int
    failed: int

    @property
    def total(self) -> int:
        return self.passed + self.failed

    @property
    def rate(self) -> float:
        return self.passed / self.total if self.total else 0.0


_PYTEST = re.compile(r"=+ .*?\b(?:(\d+) (?:passed|failed|errors?))\b.* in [\d.]+s")


def _count(pattern: str, text: str) -> int:
    return sum(int(n) for n in re.findall(pattern, text))


def parse_test_counts(output: str) -> PassFail | None:
    """The pass/fail counts a test runner printed, or None when the output is not a test run."""
    tail = output[-4000:]
    if _PYTEST.search(tail) or re.search(r"^\d+ (passed|failed)", tail, re.M):
        line = [ln for ln in tail.splitlines() if re.search(r"\d+ (passed|failed|errors?)\b", ln)][-1]
        return PassFail(_count(r"(\d+) passed", line),
                           _count(r"(\d+) failed", line) + _count(r"(\d+) errors?\b", line))
    m = re.search(r"Tests:\s+(?:(\d+) failed, )?(?:\d+ skipped, )?(\d+) passed", tail)  # jest / vitest
    if m:
        return PassFail(int(m.group(2)), int(m.group(1) or 0))
    m = re.search(r"test result: \w+\. (\d+) passed; (\d+) failed", tail)  # cargo
    if m:
        return PassFail(int(m.group(1)), int(m.group(2)))
    m = re.search(r"^Ran (\d+) tests? in", tail, re.M)  # unittest
    if m:
        f = re.search(r"FAILED \((?:failures=(\d+))?(?:, )?(?:errors=(\d+))?", tail)
        failed = (int(f.group(1) or 0) + int(f.group(2) or 0)) if f else 0
        return PassFail(int(m.group(1)) - failed, failed)
    go_pass, go_fail = len(re.findall(r"^--- PASS", tail, re.M)), len(re.findall(r"^--- FAIL", tail, re.M))
    if go_pass or go_fail:
        return PassFail(go_pass, go_fail)
    return None

