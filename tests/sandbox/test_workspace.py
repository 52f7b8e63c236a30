"""Copy-on-write workspaces: create at a revision, isolate changes, keep or discard."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from shopfloor.errors import UserError
from shopfloor.sandbox.workspace import WorkspaceManager


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    repo = tmp_path / "project"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "dev@example.com")
    git(repo, "config", "user.name", "dev")
    (repo / "app.py").write_text("VERSION = 1\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "v1")
    (repo / "app.py").write_text("VERSION = 2\n")
    git(repo, "commit", "-qam", "v2")
    return repo


@pytest.fixture
def manager(tmp_path: Path) -> Iterator[WorkspaceManager]:
    mgr = WorkspaceManager(tmp_path / "state")
    yield mgr
    for workspace in mgr.list():
        mgr.discard(workspace.name)


def test_workspace_is_a_checkout_of_the_revision_isolated_from_the_project(project: Path,
                                                                           manager: WorkspaceManager) -> None:
    workspace = manager.create(project, "HEAD~1", name="first")
    tree = Path(workspace.path)
    assert (tree / "app.py").read_text() == "VERSION = 1\n"
    assert workspace.revision == git(project, "rev-parse", "HEAD~1")
    assert git(tree, "rev-parse", "HEAD") == workspace.revision  # a real repository with history
    (tree / "app.py").write_text("VERSION = 99\n")
    (tree / "new.py").write_text("x = 1\n")
    assert (project / "app.py").read_text() == "VERSION = 2\n"
    assert not (project / "new.py").exists()
    other = manager.create(project, "HEAD~1", name="second")
    assert (Path(other.path) / "app.py").read_text() == "VERSION = 1\n"  # workspaces do not share changes
    assert git(tree, "status", "--porcelain") == "M app.py\n?? new.py"  # (leading space stripped)


def test_overlay_is_used_when_available(project: Path, manager: WorkspaceManager) -> None:
    workspace = manager.create(project)
    assert workspace.strategy == "overlay"  # root on a kernel with overlayfs, as on the factory host
    assert (workspace.root / "upper").is_dir()
    (Path(workspace.path) / "changed.txt").write_text("only this is stored\n")
    assert [p.name for p in (workspace.root / "upper").iterdir()] == ["changed.txt"]


def test_keep_lists_a_candidate_and_discard_removes_everything(project: Path,
                                                               manager: WorkspaceManager) -> None:
    kept = manager.create(project, name="candidate")
    dropped = manager.create(project, name="scratch", parent="candidate")
    (Path(kept.path) / "result.txt").write_text("good\n")
    assert manager.keep("candidate").status == "kept"
    manager.discard("scratch")
    listed = manager.list()
    assert [(w.name, w.status) for w in listed] == [("candidate", "kept")]
    assert not dropped.root.exists()
    assert dropped.parent == "candidate"
    assert (Path(manager.get("candidate").path) / "result.txt").read_text() == "good\n"


def test_a_workspace_survives_its_mount_going_away(project: Path, manager: WorkspaceManager) -> None:
    workspace = manager.create(project, name="remount")
    (Path(workspace.path) / "work.txt").write_text("in progress\n")
    subprocess.run(["umount", workspace.path], check=True)  # as after a reboot or kill -9
    assert not (Path(workspace.path) / "work.txt").exists()
    again = manager.get("remount")
    assert (Path(again.path) / "work.txt").read_text() == "in progress\n"


def test_bad_input_is_one_clear_line(tmp_path: Path, project: Path, manager: WorkspaceManager) -> None:
    with pytest.raises(UserError, match="not a git repository"):
        manager.create(tmp_path)
    with pytest.raises(UserError, match="unknown revision 'nope'"):
        manager.create(project, "nope")
    manager.create(project, name="taken")
    with pytest.raises(UserError, match="already exists"):
        manager.create(project, name="taken")
    with pytest.raises(UserError, match="invalid workspace name"):
        manager.create(project, name="../escape")
    with pytest.raises(UserError, match="no workspace named 'ghost'"):
        manager.get("ghost")


def test_sandbox_runs_in_a_workspace_and_cannot_touch_its_git(project: Path, manager: WorkspaceManager,
                                                              open_sandbox) -> None:
    workspace = manager.create(project)
    env = open_sandbox(Path(workspace.path))
    result = env.exec_command("cat app.py; echo 'VERSION = 3' > app.py; git log --oneline | wc -l; "
                              "echo evil > .git/hooks/pre-commit")
    assert result.stdout.split("\n")[:2] == ["VERSION = 2", "2"]
    assert "Read-only file system" in result.stderr
    assert (Path(workspace.path) / "app.py").read_text() == "VERSION = 3\n"
    assert not (Path(workspace.path) / ".git" / "hooks" / "pre-commit").exists()


def test_prune_deletes_only_snapshots_no_workspace_uses(project: Path, manager: WorkspaceManager) -> None:
    old = manager.create(project, "HEAD~1", name="old")
    current = manager.create(project, "HEAD", name="current")
    manager.discard(old.name)
    assert sorted(p.name for p in manager.snapshots.iterdir()) == sorted([old.revision, current.revision])
    assert manager.prune(min_age_s=3600) == []  # too young: a workspace may be being created on it
    assert manager.prune(min_age_s=0) == [old.revision]
    assert [p.name for p in manager.snapshots.iterdir()] == [current.revision]
    assert (Path(manager.get("current").path) / "app.py").read_text() == "VERSION = 2\n"
