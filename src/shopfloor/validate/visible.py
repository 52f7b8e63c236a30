"""The candidate's own (visible) tests, run in a sandbox: the other half of the overfitting gap."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from shopfloor.sandbox.bwrap import SandboxedExecutionEnvironment
from shopfloor.sandbox.policy import SandboxPolicy
from shopfloor.validate.toolchain import sandbox_path

#: Seconds the visible test command may run.
DEFAULT_VISIBLE_TESTS_TIMEOUT_S = 300.0

_COUNT = re.compile(r"(\d+) (passed|failed|errors?|xpassed|xfailed)\b")


@dataclass
class VisibleTests:
    command: str
    passed: int
    total: int
    exit_code: int
    output_tail: str

    @property
    def pass_rate(self) -> float:
        return self.passed / self.total if self.total else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "pass_rate": self.pass_rate}


def parse_counts(output: str, exit_code: int) -> tuple[int, int]:
    """(passed, total) from pytest's summary line; else the exit code decides 1/1 or 0/1."""
    counts: dict[str, int] = {}
    for number, word in _COUNT.findall(output):
        key = "error" if word.startswith("error") else word
        counts[key] = int(number)  # the last summary line wins
    if not counts:
        return (1, 1) if exit_code == 0 else (0, 1)
    passed = counts.get("passed", 0) + counts.get("xfailed", 0)
    return passed, passed + counts.get("failed", 0) + counts.get("error", 0) + counts.get("xpassed", 0)


def run_visible_tests(
    command: str,
    workspace: Path,
    *,
    hidden_paths: list[Path],
    timeout_s: float = DEFAULT_VISIBLE_TESTS_TIMEOUT_S,
    policy: SandboxPolicy | None = None,
) -> VisibleTests:
    base = policy or SandboxPolicy()
    sandbox_policy = base.with_overrides(hidden_paths=[*base.hidden_paths, *(str(p) for p in hidden_paths)])
    with SandboxedExecutionEnvironment(workspace, sandbox_policy) as sandbox:
        result = sandbox.exec_command(command, timeout_ms=int(timeout_s * 1000), env_vars=sandbox_path())
    passed, total = parse_counts(result.output, result.exit_code)
    return VisibleTests(command, passed, total, result.exit_code, result.output[-2000:])
