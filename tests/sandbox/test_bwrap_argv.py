"""How the bubblewrap command line is built."""

from __future__ import annotations

from pathlib import Path

import pytest

from shopfloor.sandbox import bwrap
from shopfloor.sandbox.policy import SandboxPolicy


def test_shopfloor_code_under_the_host_tmp_stays_visible(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A checkout cloned under /tmp must still run its supervisor inside the private /tmp."""
    code = tmp_path / "checkout" / "src"
    code.mkdir(parents=True)
    monkeypatch.setattr(bwrap, "SHOPFLOOR_CODE", code)
    argv = bwrap.build_argv("bwrap", tmp_path, SandboxPolicy(), ["true"], bridge_dir=None)
    binds = [argv[i + 1] for i, arg in enumerate(argv) if arg == "--ro-bind"]
    assert str(code) in binds
    assert argv.index("--tmpfs") < argv.index(str(code))  # bound after the private /tmp is mounted


def test_read_only_globs_bind_only_paths_that_exist(tmp_path: Path) -> None:
    (tmp_path / "scenarios").mkdir()
    policy = SandboxPolicy(read_only_paths=["scenarios/**", ".circleci/**", "Jenkinsfile"])
    assert bwrap.read_only_paths(tmp_path, policy) == [(tmp_path / "scenarios").resolve()]
