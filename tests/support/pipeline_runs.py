"""Running pipelines in tests: in-process through the Python API, or as a real `shopfloor` subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from shopfloor.pipeline.engine import RunResult
from shopfloor.pipeline.events import PipelineEvent
from shopfloor.pipeline.graph import Graph
from shopfloor.pipeline.prepare import prepare_pipeline
from shopfloor.pipeline.runner import run_pipeline
from shopfloor.workers.simulate import SimulateBackend
from tests.support.dotfiles import dot_path

REPO_ROOT = Path(__file__).resolve().parents[2]
#: Generous bound for one CLI subprocess on a shared 2-core machine.
CLI_TIMEOUT_S = 60


class EventRecorder:
    """An EventBus observer that keeps every event."""

    def __init__(self) -> None:
        self.events: list[PipelineEvent] = []

    def __call__(self, event: PipelineEvent) -> None:
        self.events.append(event)

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]

    def of(self, cls: type[PipelineEvent]) -> list[Any]:
        return [e for e in self.events if isinstance(e, cls)]


def load(name: str) -> Graph:
    """A fixture of tests/pipeline/dot/ through parse → transform → validate."""
    return prepare_pipeline(dot_path(name))


def run_fixture(name: str, logs_root: Path, **kwargs: Any) -> RunResult:
    kwargs.setdefault("backend", SimulateBackend())
    return run_pipeline(load(name), logs_root=logs_root, **kwargs)


def shopfloor(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = CLI_TIMEOUT_S,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the real `shopfloor` command and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "shopfloor", *args],
        cwd=cwd or REPO_ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        input=stdin if stdin is not None else "",
    )


def run_json(*args: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    proc = shopfloor(*args, "--json", **kwargs)
    assert proc.stdout.strip(), f"no JSON on stdout; stderr: {proc.stderr}"
    return proc.returncode, json.loads(proc.stdout)
