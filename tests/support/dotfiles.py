"""The DOT fixtures of tests/pipeline/dot/, by name."""

from __future__ import annotations

from pathlib import Path

DOT_DIR = Path(__file__).resolve().parents[1] / "pipeline" / "dot"


def dot_path(name: str) -> Path:
    path = DOT_DIR / f"{name}.dot"
    assert path.is_file(), f"missing fixture {path}"
    return path


def dot_source(name: str) -> str:
    return dot_path(name).read_text(encoding="utf-8")
