"""Fixtures shared by the whole suite. Per-layer fixtures live in tests/support/."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own SHOPFLOOR_HOME and no provider keys from the host."""
    monkeypatch.setenv("SHOPFLOOR_HOME", str(tmp_path / "shopfloor-home"))
    for var in list(os.environ):
        if var.endswith(("_API_KEY", "_BASE_URL")):
            monkeypatch.delenv(var, raising=False)


@pytest.fixture
def shopfloor_cmd() -> list[str]:
    """The `shopfloor` command as a real subprocess would run it."""
    return [sys.executable, "-m", "shopfloor"]
