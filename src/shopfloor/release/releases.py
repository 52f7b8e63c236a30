"""Creating a release: snapshot the tree, record its manifest and the context it was validated in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shopfloor.config import ProjectFile
from shopfloor.release.artifacts import ArtifactStore, Manifest
from shopfloor.release.drift import capture_snapshot
from shopfloor.release.ledger import Ledger


def snapshot_key(manifest: Manifest) -> str:
    """Where the validated context of a release is kept: its run's snapshot, else its own."""
    return manifest.run_id or f"artifact:{manifest.digest}"


def create_release(source: Path, config: ProjectFile, *, ledger: Ledger, store: ArtifactStore | None = None,
                   run_id: str = "", revision: str | None = None,
                   validation: list[dict[str, Any]] | None = None,
                   satisfaction: float | None = None) -> tuple[Manifest, bool]:
    """Store `source` once and record its manifest; returns (manifest, newly stored).

    A release made inside a run keeps the snapshot its run recorded at start; one made by hand
    records the present context now, so creating it again after a change is the re-validation.
    """
    store = store or ArtifactStore()
    manifest, created = store.create(source, run_id=run_id, revision=revision, validation=validation,
                                     satisfaction=satisfaction)
    if not created and (run_id or validation is not None or satisfaction is not None):
        manifest = store.update_evidence(manifest.digest, run_id=run_id, validation=validation,
                                         satisfaction=satisfaction)
    ledger.record_artifact(manifest.digest, manifest.to_dict())
    key = snapshot_key(manifest)
    ledger.record_snapshot(key, capture_snapshot(config).to_dict(), replace=not manifest.run_id)
    return manifest, created
