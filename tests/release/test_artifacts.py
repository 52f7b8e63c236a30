"""Content-addressed artifacts: the same tree gives the same digest and is stored once."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from shopfloor.release.artifacts import ArtifactStore, tree_digest
from tests.support.release import make_service


def test_same_tree_same_digest_stored_once(tmp_path: Path) -> None:
    a = make_service(tmp_path / "a", "v1")
    b = make_service(tmp_path / "b", "v1")
    (b / "__pycache__").mkdir()
    (b / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"junk")
    (b / ".git").mkdir()
    (b / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    assert tree_digest(a) == tree_digest(b)

    store = ArtifactStore()
    first, created_first = store.create(a)
    second, created_second = store.create(b)
    assert (created_first, created_second) == (True, False)
    assert first.digest == second.digest
    assert [p.name for p in store.root.iterdir() if not p.name.startswith(".")] == [first.digest]
    assert sorted(p.name for p in store.tree(first.digest).iterdir()) == ["app.py", "mode.txt", "version.txt"]


def test_content_and_mode_change_the_digest(tmp_path: Path) -> None:
    root = make_service(tmp_path / "a", "v1")
    base = tree_digest(root)
    (root / "version.txt").write_text("v2\n")
    changed = tree_digest(root)
    assert changed != base
    os.chmod(root / "app.py", 0o755)
    assert tree_digest(root) not in (base, changed)


def test_stored_tree_is_byte_identical_and_keeps_the_executable_bit(tmp_path: Path) -> None:
    root = make_service(tmp_path / "a", "v1")
    os.chmod(root / "app.py", 0o755)
    manifest, _ = ArtifactStore().create(root)
    stored = ArtifactStore().tree(manifest.digest)
    assert tree_digest(stored) == manifest.digest
    assert os.access(stored / "app.py", os.X_OK)


def test_cli_create_prints_the_digest_and_json(tmp_path: Path, shopfloor_cmd: list[str]) -> None:
    root = make_service(tmp_path / "a", "v1")
    results = tmp_path / "results.json"
    results.write_text(json.dumps([{"name": "unit", "passed": True}]))
    plain = subprocess.run([*shopfloor_cmd, "release", "create", str(root)], capture_output=True, text=True,
                           check=True, cwd=tmp_path)
    digest = plain.stdout.strip()
    assert digest == tree_digest(root)
    out = subprocess.run([*shopfloor_cmd, "release", "create", str(root), "--json", "--run-id", "run-7",
                          "--validation", str(results), "--satisfaction", "0.95"],
                         capture_output=True, text=True, check=True, cwd=tmp_path)
    data = json.loads(out.stdout)
    assert data["digest"] == digest and data["created"] is False
    assert data["run_id"] == "run-7" and data["satisfaction"] == 0.95
    assert data["validation"] == [{"name": "unit", "passed": True}]


def test_cli_create_rejects_a_missing_directory(tmp_path: Path, shopfloor_cmd: list[str]) -> None:
    proc = subprocess.run([*shopfloor_cmd, "release", "create", str(tmp_path / "nope")], capture_output=True,
                          text=True, cwd=tmp_path)
    assert proc.returncode == 2
    assert "not a directory" in proc.stderr and "Traceback" not in proc.stderr
