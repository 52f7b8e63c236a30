"""Content-addressed artifacts: a snapshot of a candidate workspace, stored once.

The digest is the sha256 of the tree listing: for every regular file (sorted by
POSIX path) its path, its executable bit and the sha256 of its content. Empty
directories, timestamps, owners and VCS/cache directories do not count, so the
same tree checked out twice gives the same digest. Symlinks are recorded by
their target text, never followed, so an artifact cannot smuggle in files from
outside its directory.

Layout under the state dir: `release/artifacts/<digest>/{tree/, manifest.json}`.
A store is written to a temporary sibling and renamed into place, so a crash
never leaves a half-written artifact under its digest.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from shopfloor.errors import UserError
from shopfloor.release.canonical import canonical_sha256
from shopfloor.store import state_dir

#: Directory names never included in an artifact (VCS metadata, caches, virtualenvs, our own state).
DEFAULT_IGNORED_DIRS = frozenset({
    ".git", ".hg", ".svn", "__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache",
    ".hypothesis", ".venv", "node_modules", ".shopfloor", ".tox",
})
#: File suffixes never included (compiled caches).
DEFAULT_IGNORED_SUFFIXES = (".pyc", ".pyo")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class TreeEntry:
    path: str
    mode: str  # "x" executable, "f" regular file, "l" symlink
    sha256: str


@dataclass
class Manifest:
    """What is known about a candidate: where it came from and the evidence it passed."""

    digest: str
    source_revision: str = ""
    run_id: str = ""
    #: Validation results: each {"name": str, "passed": bool, ...}.
    validation: list[dict[str, Any]] = field(default_factory=list)
    satisfaction: float | None = None
    created_at: float = 0.0
    files: int = 0
    bytes: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def walk_tree(root: Path) -> Iterator[tuple[str, Path]]:
    """Yield (posix relative path, absolute path) of every file that belongs to the artifact."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in DEFAULT_IGNORED_DIRS)
        for name in sorted(filenames):
            if name.endswith(DEFAULT_IGNORED_SUFFIXES):
                continue
            full = Path(dirpath) / name
            yield full.relative_to(root).as_posix(), full


def tree_entries(root: Path) -> list[TreeEntry]:
    entries: list[TreeEntry] = []
    for rel, full in walk_tree(root):
        st = full.lstat()
        if stat.S_ISLNK(st.st_mode):
            entries.append(TreeEntry(rel, "l", hashlib.sha256(os.readlink(full).encode()).hexdigest()))
        elif stat.S_ISREG(st.st_mode):
            mode = "x" if st.st_mode & stat.S_IXUSR else "f"
            entries.append(TreeEntry(rel, mode, _file_sha256(full)))
    entries.sort(key=lambda e: e.path)
    return entries


def digest_entries(entries: list[TreeEntry]) -> str:
    h = hashlib.sha256()
    for e in entries:
        h.update(f"{e.mode} {e.sha256} {e.path}\n".encode())
    return h.hexdigest()


def tree_digest(root: Path) -> str:
    """sha256 of the tree listing (sorted paths + modes + content hashes)."""
    return digest_entries(tree_entries(root))


def source_revision(root: Path) -> str:
    """The git commit of `root` when it is a checkout, else ''.

    Uncommitted changes to tracked files add `+dirty.<hash of the diff>`, so editing them
    again changes the revision. Untracked files do not count: run directories and build
    output appear there all the time.
    """
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                              timeout=10, check=False)
        if head.returncode != 0:
            return ""
        diff = subprocess.run(["git", "-C", str(root), "diff", "HEAD", "--no-ext-diff", "--binary"],
                              capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    revision = head.stdout.decode().strip()
    if diff.stdout:
        revision += "+dirty." + hashlib.sha256(diff.stdout).hexdigest()[:12]
    return revision


def artifacts_dir() -> Path:
    path = state_dir() / "release" / "artifacts"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _copy_tree(src: Path, dst: Path, entries: list[TreeEntry]) -> int:
    total = 0
    for e in entries:
        target = dst / e.path
        target.parent.mkdir(parents=True, exist_ok=True)
        source = src / e.path
        if e.mode == "l":
            os.symlink(os.readlink(source), target)
            continue
        shutil.copyfile(source, target)
        os.chmod(target, 0o755 if e.mode == "x" else 0o644)
        total += target.stat().st_size
    return total


class ArtifactStore:
    """Artifacts by digest under `root` (default: the state dir's release/artifacts)."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or artifacts_dir()
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, digest: str) -> Path:
        return self.root / digest

    def tree(self, digest: str) -> Path:
        return self.path(digest) / "tree"

    def exists(self, digest: str) -> bool:
        return (self.path(digest) / "manifest.json").is_file()

    def manifest(self, digest: str) -> Manifest:
        path = self.path(digest) / "manifest.json"
        if not path.is_file():
            raise UserError(f"no artifact with digest {digest}", where=str(self.root),
                            fix="create it with `shopfloor release create DIR` and use the digest it prints")
        return Manifest.from_dict(json.loads(path.read_text()))

    def resolve(self, prefix: str) -> str:
        """A full digest from a unique prefix (at least 8 hex characters), as git does."""
        if len(prefix) == 64 and self.exists(prefix):
            return prefix
        matches = [p.name for p in self.root.iterdir() if p.name.startswith(prefix) and len(prefix) >= 8
                   and (p / "manifest.json").is_file()] if self.root.exists() else []
        if len(matches) != 1:
            what = "is ambiguous" if matches else "matches no artifact"
            raise UserError(f"digest {prefix!r} {what}", where=str(self.root),
                            fix="pass the full digest printed by `shopfloor release create`")
        return matches[0]

    def create(self, source: Path, *, run_id: str = "", revision: str | None = None,
               validation: list[dict[str, Any]] | None = None,
               satisfaction: float | None = None) -> tuple[Manifest, bool]:
        """Snapshot `source`; returns (manifest, created). The same tree is stored once."""
        source = source.resolve()
        if not source.is_dir():
            raise UserError("not a directory", where=str(source),
                            fix="pass the candidate workspace directory")
        entries = tree_entries(source)
        digest = digest_entries(entries)
        if self.exists(digest):
            return self.manifest(digest), False
        tmp = Path(tempfile.mkdtemp(prefix=f".{digest[:12]}-", dir=self.root))
        try:
            size = _copy_tree(source, tmp / "tree", entries)
            if digest_entries(tree_entries(tmp / "tree")) != digest:
                raise UserError("the directory changed while it was being snapshotted", where=str(source),
                                fix="stop writers to the workspace and run the command again")
            manifest = Manifest(digest=digest, source_revision=source_revision(source) if revision is None
                                else revision, run_id=run_id, validation=list(validation or []),
                                satisfaction=satisfaction, created_at=time.time(), files=len(entries),
                                bytes=size)
            (tmp / "manifest.json").write_text(json.dumps(manifest.to_dict(), indent=2, sort_keys=True))
            _fsync_dir(tmp)
            try:
                os.rename(tmp, self.path(digest))
            except OSError:
                if not self.exists(digest):  # another writer won the race with the same digest: fine
                    raise
                shutil.rmtree(tmp, ignore_errors=True)
                return self.manifest(digest), False
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        _fsync_dir(self.root)
        return manifest, True

    def update_evidence(self, digest: str, *, run_id: str = "",
                        validation: list[dict[str, Any]] | None = None,
                        satisfaction: float | None = None) -> Manifest:
        """Attach newer evidence to a stored tree (the tree itself never changes)."""
        manifest = self.manifest(digest)
        manifest.run_id = run_id or manifest.run_id
        manifest.validation = manifest.validation if validation is None else list(validation)
        manifest.satisfaction = manifest.satisfaction if satisfaction is None else satisfaction
        path = self.path(digest) / "manifest.json"
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(manifest.to_dict(), indent=2, sort_keys=True))
        os.replace(tmp, path)
        return manifest

    def diff(self, base: str | None, candidate: str) -> list[dict[str, str]]:
        """Changed paths from `base` to `candidate` (every path when there is no base)."""
        new = {e.path: e for e in tree_entries(self.tree(candidate))}
        old = {e.path: e for e in tree_entries(self.tree(base))} if base else {}
        changes: list[dict[str, str]] = []
        for path in sorted(set(new) | set(old)):
            a, b = old.get(path), new.get(path)
            if a == b:
                continue
            changes.append({"path": path, "old": f"{a.mode}:{a.sha256}" if a else "",
                            "new": f"{b.mode}:{b.sha256}" if b else ""})
        return changes


def diff_hash(changes: list[dict[str, str]]) -> str:
    """sha256 of a canonical diff listing: what an approval of that diff is bound to."""
    return canonical_sha256(changes)


def _fsync_dir(path: Path) -> None:
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            full = os.path.join(dirpath, name)
            if not os.path.islink(full):
                with open(full, "rb") as fh:
                    os.fsync(fh.fileno())
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
