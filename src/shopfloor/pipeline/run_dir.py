"""The run directory of attractor-spec 5.6, and the atomic file writes everything in it uses.

    {logs_root}/
        checkpoint.json        state after the last completed node (atomic, fsync'd)
        manifest.json          pipeline name, goal, start time, run id, how it was launched
        pipeline.dot           the DOT source this run executes (resume never re-reads the original)
        events.jsonl           hash-chained typed events
        {node_id}/status.json  the node's final Outcome (+ prompt.md, response.md for codergen)
        artifacts/{id}.json    file-backed artifacts
        restart-{n}/           a fresh log directory opened by a loop_restart edge

Writes go to a temp file in the same directory and are renamed into place, so
a reader (or a resume after kill -9) sees the old file or the new one, never a
torn one.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

CHECKPOINT_FILE = "checkpoint.json"
MANIFEST_FILE = "manifest.json"
EVENTS_FILE = "events.jsonl"
PIPELINE_COPY_FILE = "pipeline.dot"
STATUS_FILE = "status.json"
PROMPT_FILE = "prompt.md"
RESPONSE_FILE = "response.md"
ARTIFACTS_DIR = "artifacts"


def _json_bytes(data: Any) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True, default=str) + "\n").encode()


def write_file(path: Path | str, payload: bytes, *, durable: bool = False) -> None:
    """Create or truncate `path` and write `payload`: open, write, close and nothing else.

    Per node files are written with os-level calls: open() would add a buffered
    (and for text, a decoding) wrapper and an fstat, an isatty ioctl and seeks.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
    try:
        view = memoryview(payload)
        while view:
            view = view[os.write(fd, view):]
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, payload: bytes, *, durable: bool = False) -> None:
    """Temp file + rename; with `durable`, fsync before the rename (survives power loss, not just kill -9)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write_file(tmp, payload, durable=durable)
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)  # a failed write (disk full, target is a directory) leaves no debris
        raise


def write_json_atomic(path: Path, data: Any, *, durable: bool = False) -> None:
    write_atomic(path, _json_bytes(data), durable=durable)


def fsync_dir(path: Path) -> None:
    """Make a rename or a new entry in `path` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class Manifest:
    """Pipeline metadata, plus what `shopfloor resume` needs to relaunch the run the same way."""

    run_id: str
    name: str
    goal: str
    started_at: float
    pipeline: str = ""
    backend: str = "simulate"
    interviewer: str = "console"
    answers_file: str = ""
    initial_context: dict[str, Any] = field(default_factory=dict)
    parent_logs_root: str = ""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


class RunDir:
    """Paths and files of one run directory."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    @property
    def checkpoint_path(self) -> Path:
        return self.root / CHECKPOINT_FILE

    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST_FILE

    @property
    def events_path(self) -> Path:
        return self.root / EVENTS_FILE

    @property
    def pipeline_copy_path(self) -> Path:
        return self.root / PIPELINE_COPY_FILE

    @property
    def artifacts_dir(self) -> Path:
        return self.root / ARTIFACTS_DIR

    def stage_dir(self, node_id: str, *, create: bool = True) -> Path:
        path = self.root / node_id
        if create:
            path.mkdir(parents=True, exist_ok=True)
        return path

    def create(self, manifest: Manifest, dot_source: str | None) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if dot_source is not None:
            write_atomic(self.pipeline_copy_path, dot_source.encode(), durable=True)
        write_json_atomic(self.manifest_path, asdict(manifest), durable=True)
        fsync_dir(self.root)

    def read_manifest(self) -> Manifest | None:
        try:
            return Manifest.from_dict(json.loads(self.manifest_path.read_text()))
        except FileNotFoundError:
            return None

    def restart_dir(self, number: int) -> RunDir:
        return RunDir(self.root / f"restart-{number}")
