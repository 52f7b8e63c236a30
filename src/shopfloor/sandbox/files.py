"""File and search operations on the host filesystem, shared by every environment.

`FileOps` resolves paths relative to a working directory. With `confine=True`
(the sandbox) every path is resolved through symlinks first and must stay
inside the root, so a symlink planted in the workspace cannot make the host
read or write outside it.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

#: Lines returned by read_file when the caller gives no limit (the spec's read_file default).
DEFAULT_READ_LIMIT_LINES = 2000
#: Matches returned by grep when the caller gives no limit (the spec's grep default).
DEFAULT_GREP_MAX_RESULTS = 100
#: Bytes sniffed for a NUL byte to call a file binary.
BINARY_SNIFF_BYTES = 8192
#: Directories grep and glob never descend into.
SKIPPED_DIRS = frozenset({".git", "node_modules", "__pycache__", ".venv"})


@dataclass(frozen=True)
class DirEntry:
    """One entry of `list_directory`: `name` is relative to the listed directory."""

    name: str
    is_dir: bool
    size: int | None


@dataclass(frozen=True)
class GrepOptions:
    glob_filter: str | None = None
    case_insensitive: bool = False
    max_results: int = DEFAULT_GREP_MAX_RESULTS


class PathOutsideWorkspaceError(PermissionError):
    """A path (after following symlinks) leaves the directory the environment is confined to."""


class FileOps:
    """read/write/exists/list/grep/glob rooted at `root`."""

    def __init__(self, root: Path, *, confine: bool = False) -> None:
        self.root = root.resolve()
        self.confine = confine

    def resolve(self, path: str) -> Path:
        candidate = Path(path).expanduser()
        if not candidate.is_absolute():
            candidate = self.root / candidate
        if not self.confine:
            return candidate
        real = Path(os.path.realpath(candidate))
        if real != self.root and self.root not in real.parents:
            raise PathOutsideWorkspaceError(f"{path}: resolves to {real}, outside the workspace {self.root}")
        return real

    def read_file(self, path: str, offset: int | None = None, limit: int | None = None) -> str:
        """Lines `offset`.. (1-based) of a text file, at most `limit` of them, without line numbers."""
        with self._open(self.resolve(path), "rb") as fh:
            data = fh.read()
        if b"\0" in data[:BINARY_SNIFF_BYTES]:
            raise ValueError(f"{path}: binary file, not shown")
        lines = data.decode("utf-8", errors="replace").splitlines(keepends=True)
        start = max((offset or 1) - 1, 0)
        return "".join(lines[start:start + (limit or DEFAULT_READ_LIMIT_LINES)])

    def write_file(self, path: str, content: str) -> None:
        target = self.resolve(path)
        if not self.confine:
            target.parent.mkdir(parents=True, exist_ok=True)
        with self._open(target, "w", create=True) as fh:
            fh.write(content)

    def _open(self, real: Path, mode: str, *, create: bool = False) -> IO[Any]:
        """Open a resolved path; when confined, without following any symlink on the way.

        `resolve` checked the path, but sandboxed code runs concurrently and could
        swap a directory for a symlink before the open. So every component is
        opened relative to its parent with O_NOFOLLOW: a swapped-in symlink fails
        the open instead of leading the host (often root) outside the workspace.
        """
        if not self.confine:
            return open(real, mode)
        parts = real.relative_to(self.root).parts
        if not parts:
            raise IsADirectoryError(f"{real}: is a directory")
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            for part in parts[:-1]:
                if create:
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(part, dir_fd=fd)
                child = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
                os.close(fd)
                fd = child
            flags = (os.O_WRONLY | os.O_CREAT | os.O_TRUNC) if "w" in mode else os.O_RDONLY
            leaf = os.open(parts[-1], flags | os.O_NOFOLLOW, 0o644, dir_fd=fd)
        finally:
            os.close(fd)
        return os.fdopen(leaf, mode)

    def file_exists(self, path: str) -> bool:
        try:
            return self.resolve(path).exists()
        except PathOutsideWorkspaceError:
            return False

    def list_directory(self, path: str, depth: int = 1) -> list[DirEntry]:
        base = self.resolve(path)
        if not base.is_dir():
            raise NotADirectoryError(f"{path}: not a directory")
        out: list[DirEntry] = []
        self._walk(base, base, max(depth, 1), out)
        return out

    def _walk(self, base: Path, directory: Path, depth: int, out: list[DirEntry]) -> None:
        for entry in sorted(os.scandir(directory), key=lambda e: e.name):
            is_dir = entry.is_dir(follow_symlinks=False)
            size = None if is_dir else entry.stat(follow_symlinks=False).st_size
            out.append(DirEntry(name=str(Path(entry.path).relative_to(base)), is_dir=is_dir, size=size))
            if is_dir and depth > 1:
                self._walk(base, Path(entry.path), depth - 1, out)

    def _files(self, base: Path, glob_filter: str | None) -> list[Path]:
        if base.is_file():
            return [base]
        found: list[Path] = []
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_DIRS)
            for name in sorted(filenames):
                if glob_filter is None or Path(name).match(glob_filter):
                    found.append(Path(dirpath) / name)
        return found

    def grep(self, pattern: str, path: str | None = None, options: GrepOptions | None = None) -> str:
        """`file:line:text` for each match, at most `options.max_results` lines."""
        opts = options or GrepOptions()
        try:
            regex = re.compile(pattern, re.IGNORECASE if opts.case_insensitive else 0)
        except re.error as exc:
            raise ValueError(f"invalid regex {pattern!r}: {exc}") from None
        base = self.resolve(path or ".")
        if not base.exists():
            raise FileNotFoundError(f"{path}: no such file or directory")
        hits: list[str] = []
        for file in self._files(base, opts.glob_filter):
            try:
                with self._open(self.resolve(str(file)), "rb") as fh:
                    head = fh.read(BINARY_SNIFF_BYTES)
                    if b"\0" in head:
                        continue
                    text = (head + fh.read()).decode("utf-8", errors="replace")
            except OSError:  # unreadable, or (confined) a symlink out of the workspace
                continue
            for number, line in enumerate(text.splitlines(), 1):
                if regex.search(line):
                    hits.append(f"{file}:{number}:{line}")
                    if len(hits) >= opts.max_results:
                        return "\n".join(hits)
        return "\n".join(hits)

    def glob(self, pattern: str, path: str | None = None) -> list[str]:
        """Paths matching `pattern` under `path`, newest modification first."""
        base = self.resolve(path or ".")
        if not base.is_dir():
            raise FileNotFoundError(f"{path}: no such directory")
        matches = [p for p in base.glob(pattern)
                   if not SKIPPED_DIRS.intersection(p.relative_to(base).parts)
                   and (not self.confine or self.file_exists(str(p)))]
        matches.sort(key=lambda p: p.lstat().st_mtime, reverse=True)
        return [str(p) for p in matches]
