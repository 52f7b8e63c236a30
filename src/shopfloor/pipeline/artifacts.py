"""The artifact store of attractor-spec 5.5: named storage for outputs too big for the context.

Small artifacts stay in memory; those above the file-backing threshold are
written to `{logs_root}/artifacts/{id}.json` and survive a crash. A store
opened on an existing run directory finds its file-backed artifacts again.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shopfloor.pipeline.run_dir import ARTIFACTS_DIR, write_json_atomic

#: Artifacts larger than this (bytes of their JSON form) are written to disk (spec 5.5).
DEFAULT_FILE_BACKING_THRESHOLD = 100 * 1024

_SAFE_ID = re.compile(r"^[A-Za-z0-9_.-]+$")


class ArtifactNotFound(KeyError):
    pass


@dataclass(frozen=True)
class ArtifactInfo:
    id: str
    name: str
    size_bytes: int
    stored_at: float
    is_file_backed: bool


class ArtifactStore:
    def __init__(self, base_dir: Path | None = None,
                 file_backing_threshold: int = DEFAULT_FILE_BACKING_THRESHOLD) -> None:
        self.base_dir = Path(base_dir) if base_dir is not None else None
        self.threshold = file_backing_threshold
        self._items: dict[str, tuple[ArtifactInfo, Any]] = {}
        self._lock = threading.RLock()
        self._reload()

    def _path(self, artifact_id: str) -> Path:
        assert self.base_dir is not None
        return self.base_dir / ARTIFACTS_DIR / f"{artifact_id}.json"

    def _reload(self) -> None:
        if self.base_dir is None or not (self.base_dir / ARTIFACTS_DIR).is_dir():
            return
        for path in sorted((self.base_dir / ARTIFACTS_DIR).glob("*.json")):
            try:
                envelope = json.loads(path.read_text())
            except (OSError, json.JSONDecodeError):
                continue  # a stray or foreign file is not an artifact of this run
            artifact_id = path.stem
            info = ArtifactInfo(artifact_id, str(envelope.get("name", artifact_id)), path.stat().st_size,
                                float(envelope.get("stored_at", 0.0)), True)
            self._items[artifact_id] = (info, path)

    def store(self, artifact_id: str, name: str, data: Any) -> ArtifactInfo:
        if not _SAFE_ID.match(artifact_id):
            raise ValueError(f"artifact id {artifact_id!r} may contain only letters, digits, '_', '.', '-'")
        payload = json.dumps(data, default=str)
        size = len(payload.encode())
        file_backed = size > self.threshold and self.base_dir is not None
        stored_at = time.time()
        stored: Any = data
        if file_backed:
            path = self._path(artifact_id)
            path.parent.mkdir(parents=True, exist_ok=True)
            write_json_atomic(path, {"name": name, "stored_at": stored_at, "data": data})
            stored = path
        info = ArtifactInfo(artifact_id, name, size, stored_at, file_backed)
        with self._lock:
            self._items[artifact_id] = (info, stored)
        return info

    def retrieve(self, artifact_id: str) -> Any:
        with self._lock:
            if artifact_id not in self._items:
                raise ArtifactNotFound(f"artifact not found: {artifact_id}")
            info, stored = self._items[artifact_id]
        if info.is_file_backed:
            return json.loads(Path(stored).read_text())["data"]
        return stored

    def has(self, artifact_id: str) -> bool:
        with self._lock:
            return artifact_id in self._items

    def list(self) -> list[ArtifactInfo]:
        with self._lock:
            return [info for info, _ in self._items.values()]

    def remove(self, artifact_id: str) -> None:
        with self._lock:
            info, stored = self._items.pop(artifact_id, (None, None))
        if info is not None and info.is_file_backed:
            Path(stored).unlink(missing_ok=True)

    def clear(self) -> None:
        for info in self.list():
            self.remove(info.id)
