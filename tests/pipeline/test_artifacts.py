"""attractor-spec 5.5: the artifact store."""

from __future__ import annotations

from pathlib import Path

import pytest

from shopfloor.pipeline.artifacts import ArtifactNotFound, ArtifactStore


def test_small_artifacts_stay_in_memory_and_large_ones_go_to_disk(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path, file_backing_threshold=100)
    small = store.store("plan", "the plan", {"steps": [1, 2]})
    big = store.store("log", "build log", "x" * 500)
    assert not small.is_file_backed and big.is_file_backed
    assert (tmp_path / "artifacts" / "log.json").exists() and not (
        tmp_path / "artifacts" / "plan.json"
    ).exists()
    assert store.retrieve("plan") == {"steps": [1, 2]} and store.retrieve("log") == "x" * 500
    assert store.has("plan") and {i.id for i in store.list()} == {"plan", "log"}


def test_file_backed_artifacts_survive_a_new_store_on_the_same_run(tmp_path: Path) -> None:
    ArtifactStore(tmp_path, file_backing_threshold=10).store(
        "report", "report", {"score": 0.9, "pad": "z" * 50}
    )
    reopened = ArtifactStore(tmp_path)
    assert reopened.retrieve("report")["score"] == 0.9
    assert reopened.list()[0].name == "report"


def test_remove_clear_and_missing(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path, file_backing_threshold=10)
    store.store("a", "a", "y" * 100)
    store.store("b", "b", 1)
    store.remove("a")
    assert not (tmp_path / "artifacts" / "a.json").exists() and not store.has("a")
    store.clear()
    assert store.list() == []
    with pytest.raises(ArtifactNotFound):
        store.retrieve("b")
    with pytest.raises(ValueError, match="may contain only"):
        store.store("../escape", "x", 1)


def test_without_base_dir_everything_is_in_memory() -> None:
    store = ArtifactStore(None, file_backing_threshold=1)
    assert not store.store("a", "a", "long enough").is_file_backed
