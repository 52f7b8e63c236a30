"""Copy-on-write workspaces of a project at a git revision.

A workspace is a directory an agent may change freely without touching the
project. Creating one has two steps:

1. a *snapshot* of the revision, built once per commit and shared read-only by
   every workspace of that commit: `git clone --shared --no-checkout` (objects
   borrowed from the project, nothing copied) plus a checkout of the revision.
   It is a real git repository, so agents get history and `git diff`;
2. the workspace itself: an overlayfs mount whose lower layer is the snapshot
   and whose upper layer holds only what the agent changes. Mounting is O(1)
   whatever the size of the tree. Where overlayfs cannot be mounted (not root,
   or no kernel support) the snapshot is copied instead (`cp --reflink=auto`,
   which is copy-on-write on btrfs/xfs and a full copy elsewhere).

Each workspace lives in `<state dir>/workspaces/<name>/` with `workspace.json`
(written atomically) beside `tree/`, the directory to work in. At the end a
workspace is either discarded (unmounted and deleted) or kept as a candidate:
it stays listed, and is remounted on demand after a reboot or kill -9.
Snapshots no workspace uses any more are deleted by `prune`.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from shopfloor.errors import UserError
from shopfloor.store import state_dir

WORKSPACES_DIR = "workspaces"
SNAPSHOTS_DIR = "snapshots"
METADATA_FILE = "workspace.json"
#: Seconds allowed for the git commands that build a snapshot.
DEFAULT_GIT_TIMEOUT_S = 300.0
#: `prune` leaves snapshots younger than this alone (a workspace may be being created on one).
DEFAULT_PRUNE_MIN_AGE_S = 3600.0
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

Strategy = Literal["overlay", "copy"]
Status = Literal["active", "kept"]


@dataclass(frozen=True)
class Workspace:
    name: str
    #: The directory to work in.
    path: str
    project: str
    revision: str
    strategy: Strategy
    status: Status
    created_at: float
    parent: str | None = None

    @property
    def root(self) -> Path:
        return Path(self.path).parent


def _git(args: list[str], *, cwd: Path, what: str) -> str:
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                              timeout=DEFAULT_GIT_TIMEOUT_S, check=False)
    except FileNotFoundError:
        raise UserError("git is not installed", fix="apt-get install git") from None
    if proc.returncode != 0:
        detail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise UserError(f"{what}: {detail}", where=str(cwd), fix="check the project path and the revision")
    return proc.stdout.strip()


def _is_mounted(path: Path) -> bool:
    target = str(path.resolve())
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mounts").read_text().splitlines():
            if line.split()[1] == target:
                return True
    return False


class WorkspaceManager:
    """Creates, lists, keeps and discards workspaces under a state directory."""

    def __init__(self, base: Path | None = None) -> None:
        self.base = base or state_dir()
        self.workspaces = self.base / WORKSPACES_DIR
        self.snapshots = self.base / SNAPSHOTS_DIR

    # -- snapshots
    def resolve_revision(self, project: Path, revision: str) -> str:
        if not (project / ".git").exists():
            raise UserError("not a git repository", where=str(project),
                            fix="run it in a git project (git init && git commit), or pass --project")
        return _git(["rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}"], cwd=project,
                    what=f"unknown revision {revision!r}")

    def snapshot(self, project: Path, commit: str) -> Path:
        """The read-only checkout of `commit`, built on first use (atomically: build, then rename)."""
        final = self.snapshots / commit
        if final.is_dir():
            return final
        self.snapshots.mkdir(parents=True, exist_ok=True)
        building = self.snapshots / f".{commit}.{uuid.uuid4().hex[:8]}"
        try:
            _git(["clone", "--quiet", "--shared", "--no-checkout", str(project), str(building)],
                 cwd=project, what="cannot clone the project")
            _git(["checkout", "--quiet", "--detach", commit], cwd=building,
                 what=f"cannot check out {commit}")
            try:
                building.rename(final)
            except OSError:  # another process built it first
                shutil.rmtree(building, ignore_errors=True)
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise
        return final

    # -- workspaces
    def create(self, project: str | Path, revision: str = "HEAD", *, name: str | None = None,
               parent: str | None = None) -> Workspace:
        """A new workspace of `project` at `revision`; `parent` records which workspace asked for it."""
        project_path = Path(project).resolve()
        commit = self.resolve_revision(project_path, revision)
        name = name or f"ws-{uuid.uuid4().hex[:10]}"
        if not _NAME.match(name):
            raise UserError(f"invalid workspace name {name!r}", fix="use letters, digits, '.', '_' or '-'")
        root = self.workspaces / name
        if root.exists():
            raise UserError(f"workspace {name!r} already exists", where=str(root),
                            fix="pick another name, or discard it first")
        lower = self.snapshot(project_path, commit)
        root.mkdir(parents=True)
        tree = root / "tree"
        strategy: Strategy = "overlay" if self._mount_overlay(lower, root) else "copy"
        if strategy == "copy":
            subprocess.run(["cp", "-a", "--reflink=auto", str(lower), str(tree)], check=True)
        workspace = Workspace(name=name, path=str(tree), project=str(project_path), revision=commit,
                              strategy=strategy, status="active", created_at=time.time(), parent=parent)
        self._save(workspace)
        return workspace

    def _mount_overlay(self, lower: Path, root: Path) -> bool:
        for sub in ("upper", "work", "tree"):
            (root / sub).mkdir(exist_ok=True)
        options = f"lowerdir={lower},upperdir={root / 'upper'},workdir={root / 'work'}"
        proc = subprocess.run(["mount", "-t", "overlay", "overlay", "-o", options, str(root / "tree")],
                              capture_output=True, check=False)
        if proc.returncode == 0:
            return True
        for sub in ("upper", "work", "tree"):
            (root / sub).rmdir()
        return False

    def _save(self, workspace: Workspace) -> None:
        meta = workspace.root / METADATA_FILE
        tmp = meta.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(workspace), indent=2))
        tmp.replace(meta)

    def list(self) -> list[Workspace]:
        out = []
        for meta in sorted(self.workspaces.glob(f"*/{METADATA_FILE}")):
            with contextlib.suppress(OSError, ValueError, TypeError):
                out.append(Workspace(**json.loads(meta.read_text())))
        return sorted(out, key=lambda w: w.created_at)

    def get(self, name: str) -> Workspace:
        """A workspace by name, remounted if its overlay is gone (reboot, kill -9)."""
        meta = self.workspaces / name / METADATA_FILE
        if not meta.exists():
            known = ", ".join(w.name for w in self.list()) or "none"
            raise UserError(f"no workspace named {name!r}", where=str(self.workspaces),
                            fix=f"pick one of: {known}")
        workspace = Workspace(**json.loads(meta.read_text()))
        tree = Path(workspace.path)
        if workspace.strategy == "overlay" and not _is_mounted(tree):
            lower = self.snapshot(Path(workspace.project), workspace.revision)
            if not self._mount_overlay(lower, workspace.root):
                raise UserError("cannot remount the workspace overlay", where=str(tree),
                                fix="run as root on a kernel with overlayfs")
        return workspace

    def keep(self, name: str) -> Workspace:
        """Mark a workspace as a candidate to keep: it stays until discarded explicitly."""
        workspace = self.get(name)
        kept = Workspace(**{**asdict(workspace), "status": "kept"})
        self._save(kept)
        return kept

    def discard(self, name: str) -> None:
        """Unmount and delete a workspace and everything changed in it."""
        root = self.workspaces / name
        if not root.exists():
            raise UserError(f"no workspace named {name!r}", where=str(self.workspaces))
        tree = root / "tree"
        if _is_mounted(tree):
            subprocess.run(["umount", str(tree)], check=True, capture_output=True)
        shutil.rmtree(root)

    def prune(self, min_age_s: float = DEFAULT_PRUNE_MIN_AGE_S) -> list[str]:
        """Delete snapshots no workspace uses (older than `min_age_s`); returns their commits."""
        used = {w.revision for w in self.list()}
        cutoff = time.time() - min_age_s
        removed = []
        for snapshot in sorted(self.snapshots.glob("*")):
            if snapshot.name in used or snapshot.stat().st_mtime > cutoff:
                continue
            shutil.rmtree(snapshot, ignore_errors=True)  # also half-built ones a kill -9 left
            removed.append(snapshot.name)
        return removed
