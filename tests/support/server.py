"""A real `shopfloor serve` subprocess on a free loopback port, stopped at teardown."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

#: How long the server may take to print its address.
STARTUP_TIMEOUT_S = 20.0


@dataclass
class ServedShopfloor:
    url: str
    runs_dir: Path
    process: subprocess.Popen[str]

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM (as a supervisor would) and wait; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServedShopfloor]:
    runs = tmp_path / "runs"
    command = [sys.executable, "-m", "shopfloor", "serve", "--port", "0", "--runs-dir", str(runs)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                            env=dict(os.environ))
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        if "serving on " not in line:
            proc.kill()
            raise RuntimeError(f"server did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}")
        yield ServedShopfloor(line.strip().rsplit(" ", 1)[-1], runs, proc)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()
