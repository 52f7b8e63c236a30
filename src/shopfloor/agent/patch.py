"""The v4a patch format of codex-rs (coding-agent-loop-spec Appendix A): parse, then apply.

Parsing and applying are pure text functions; the apply_patch tool does the file
I/O through the execution environment. Every hunk of every file is resolved
before anything is written, so a patch that fails half-way changes nothing.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

BEGIN_MARKER = "*** Begin Patch"
END_MARKER = "*** End Patch"
ADD_PREFIX = "*** Add File: "
DELETE_PREFIX = "*** Delete File: "
UPDATE_PREFIX = "*** Update File: "
MOVE_PREFIX = "*** Move to: "
EOF_MARKER = "*** End of File"


class PatchParseError(ValueError):
    """The patch text does not follow the v4a grammar."""


class PatchApplyError(ValueError):
    """The patch is well formed but does not fit the files it names."""


@dataclass
class Hunk:
    """One `@@` block: the lines it expects (`old`) and what replaces them (`new`)."""

    context_hint: str = ""
    old: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)
    end_of_file: bool = False


@dataclass
class AddFile:
    path: str
    content: str


@dataclass
class DeleteFile:
    path: str


@dataclass
class UpdateFile:
    path: str
    move_to: str | None = None
    hunks: list[Hunk] = field(default_factory=list)


Operation = AddFile | DeleteFile | UpdateFile


def _strip_wrapping(text: str) -> list[str]:
    lines = text.strip().splitlines()
    # Models sometimes send the shell heredoc they were trained on; accept its body.
    if lines and lines[0].strip().startswith("<<") and lines[-1].strip() in ("EOF", "'EOF'", '"EOF"'):
        lines = lines[1:-1]
    return [line.rstrip("\r") for line in lines]


def parse_patch(text: str) -> list[Operation]:
    """Parse a whole patch into its file operations, in order."""
    lines = _strip_wrapping(text)
    if not lines or lines[0].strip() != BEGIN_MARKER:
        raise PatchParseError(f"the first line of the patch must be '{BEGIN_MARKER}'")
    if lines[-1].strip() != END_MARKER:
        raise PatchParseError(f"the last line of the patch must be '{END_MARKER}'")
    body = lines[1:-1]
    ops: list[Operation] = []
    i = 0
    while i < len(body):
        line = body[i]
        if line.startswith(ADD_PREFIX):
            path = _path(line, ADD_PREFIX, i)
            i += 1
            added: list[str] = []
            while i < len(body) and not body[i].startswith("*** "):
                if not body[i].startswith("+"):
                    raise PatchParseError(f"line {i + 2}: every line of an added file must start with '+'")
                added.append(body[i][1:])
                i += 1
            ops.append(AddFile(path, "\n".join(added) + ("\n" if added else "")))
        elif line.startswith(DELETE_PREFIX):
            ops.append(DeleteFile(_path(line, DELETE_PREFIX, i)))
            i += 1
        elif line.startswith(UPDATE_PREFIX):
            update = UpdateFile(_path(line, UPDATE_PREFIX, i))
            i += 1
            if i < len(body) and body[i].startswith(MOVE_PREFIX):
                update.move_to = _path(body[i], MOVE_PREFIX, i)
                i += 1
            i = _parse_hunks(body, i, update)
            ops.append(update)
        elif not line.strip():
            i += 1
        else:
            raise PatchParseError(
                f"line {i + 2}: expected '*** Add File:', '*** Delete File:' or "
                f"'*** Update File:', got {line[:60]!r}"
            )
    if not ops:
        raise PatchParseError("the patch contains no file operations")
    return ops


def _path(line: str, prefix: str, index: int) -> str:
    path = line[len(prefix) :].strip()
    if not path:
        raise PatchParseError(f"line {index + 2}: missing file path after {prefix.strip()!r}")
    return path


def _parse_hunks(body: list[str], i: int, update: UpdateFile) -> int:
    hunk: Hunk | None = None
    while i < len(body):
        line = body[i]
        if line.strip() == EOF_MARKER:
            if hunk is None:
                raise PatchParseError(f"line {i + 2}: '{EOF_MARKER}' outside a hunk")
            hunk.end_of_file = True
            i += 1
            continue
        if line.startswith("*** "):
            break
        if line.startswith("@@"):
            hunk = Hunk(context_hint=line[2:].strip())
            update.hunks.append(hunk)
        else:
            if hunk is None:  # codex accepts a first hunk without an @@ header
                hunk = Hunk()
                update.hunks.append(hunk)
            tag, text = (line[:1], line[1:]) if line else (" ", "")
            if tag == " ":
                hunk.old.append(text)
                hunk.new.append(text)
            elif tag == "-":
                hunk.old.append(text)
            elif tag == "+":
                hunk.new.append(text)
            else:
                raise PatchParseError(
                    f"line {i + 2}: hunk lines start with ' ', '-' or '+', got {line[:60]!r}"
                )
        i += 1
    empty = not update.hunks or all(not h.old and not h.new for h in update.hunks)
    if empty and update.move_to is None:
        raise PatchParseError(f"'{UPDATE_PREFIX}{update.path}' has no hunks")
    return i


_PUNCTUATION = str.maketrans(
    {
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u2212": "-",
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u00a0": " ",
        "\u2002": " ",
        "\u2003": " ",
        "\u2009": " ",
        "\u202f": " ",
    }
)

#: Ever looser ways to compare a patch line with a file line (exact first).
LINE_NORMALIZERS: list[Callable[[str], str]] = [
    lambda s: s,
    lambda s: s.rstrip(),
    lambda s: s.strip(),
    lambda s: " ".join(unicodedata.normalize("NFKC", s).translate(_PUNCTUATION).split()),
]


def _seek(lines: list[str], pattern: list[str], start: int, end_of_file: bool) -> int | None:
    if not pattern:
        return len(lines) if end_of_file else start
    last = len(lines) - len(pattern)
    for norm in LINE_NORMALIZERS:
        wanted = [norm(p) for p in pattern]
        normed = [norm(x) for x in lines]  # once per pass, not once per candidate window
        if end_of_file and last >= 0 and normed[last:] == wanted:
            return last
        for pos in range(start, last + 1):
            if normed[pos : pos + len(pattern)] == wanted:
                return pos
    return None


def apply_hunks(original: str, hunks: list[Hunk], path: str) -> str:
    """Apply an Update File's hunks to `original`; raise PatchApplyError if one does not fit."""
    lines = original.split("\n")
    trailing_newline = original.endswith("\n")
    if trailing_newline:
        lines.pop()
    replacements: list[tuple[int, int, list[str]]] = []
    cursor = 0
    for number, hunk in enumerate(hunks, 1):
        start = cursor
        if hunk.context_hint:
            hint_at = _seek(lines, [hunk.context_hint], cursor, False)
            if hint_at is not None:
                start = hint_at  # inclusive: the hint line may itself be changed
        at = _seek(lines, hunk.old, start, hunk.end_of_file)
        if at is None and start != 0:
            at = _seek(lines, hunk.old, 0, hunk.end_of_file)
        if at is None:
            expected = "\n".join(hunk.old[:6])
            raise PatchApplyError(
                f"{path}: hunk {number} does not match the file; expected lines:\n{expected}"
            )
        replacements.append((at, len(hunk.old), hunk.new))
        cursor = at + len(hunk.old)
    for at, length, new in sorted(replacements, key=lambda r: r[0], reverse=True):
        lines[at : at + length] = new
    text = "\n".join(lines)
    return text + "\n" if (trailing_newline or not original) and lines else text
