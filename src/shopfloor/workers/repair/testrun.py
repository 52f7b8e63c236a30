"""Running a project's visible tests and reading which ones passed.

pytest writes a JUnit XML report; test ids are `module.Class.test_name` with
parametrization stripped, the same shape coverage.py uses for its per-test
contexts, so localization can join the two.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

#: Wall-clock limit for one run of the visible tests; a mutant can loop forever.
DEFAULT_TEST_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class TestReport:
    passed: frozenset[str] = field(default_factory=frozenset)
    failed: frozenset[str] = field(default_factory=frozenset)
    #: pytest node ids of the failing cases, to re-run just those first.
    failed_node_ids: tuple[str, ...] = ()
    #: Set when the run could not produce a report (timeout, collection error, crash).
    broken: str = ""

    @property
    def total(self) -> int:
        return len(self.passed) + len(self.failed)

    @property
    def all_passed(self) -> bool:
        return not self.broken and not self.failed and bool(self.passed)


def _test_id(classname: str, name: str) -> str:
    return f"{classname}.{name.split('[', 1)[0]}"


def _node_id(case: ET.Element) -> str:
    """xunit1 reports carry the file, so `tests.test_x.TestY` + file gives `tests/test_x.py::TestY::name`."""
    file = case.get("file", "")
    module = file.removesuffix(".py").replace("/", ".")
    classes = case.get("classname", "").removeprefix(module).strip(".")
    return "::".join(p for p in (file, classes.replace(".", "::"), case.get("name", "")) if p)


def read_junit(path: Path) -> TestReport:
    root = ET.parse(path).getroot()
    passed: set[str] = set()
    failed: set[str] = set()
    failed_nodes: list[str] = []
    for case in root.iter("testcase"):
        tid = _test_id(case.get("classname", ""), case.get("name", ""))
        if case.find("skipped") is not None:
            continue
        if case.find("failure") is not None or case.find("error") is not None:
            failed.add(tid)
            failed_nodes.append(_node_id(case))
        else:
            passed.add(tid)
    # A parametrized test passes only if every parametrization passes.
    return TestReport(frozenset(passed - failed), frozenset(failed), tuple(failed_nodes))


def pytest_command(test_args: list[str], junit: Path, *, coverage_rc: Path | None = None) -> list[str]:
    runner = [sys.executable, "-m"]
    if coverage_rc is not None:
        runner += ["coverage", "run", f"--rcfile={coverage_rc}", "-m"]
    return [*runner, "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
            "-o", "junit_family=xunit1", f"--junitxml={junit}", *test_args]


def run_tests(workdir: Path, test_args: list[str], *, timeout_s: float = DEFAULT_TEST_TIMEOUT_S,
              coverage_rc: Path | None = None) -> TestReport:
    """Run pytest in `workdir` in its own process group; a timeout kills the whole tree."""
    with tempfile.TemporaryDirectory(prefix="shopfloor-junit-") as tmp:
        junit = Path(tmp) / "junit.xml"
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(workdir)}
        proc = subprocess.Popen(pytest_command(test_args, junit, coverage_rc=coverage_rc), cwd=workdir,
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
            return TestReport(broken=f"timed out after {timeout_s:g}s")
        if not junit.exists():
            return TestReport(broken=f"pytest exited {proc.returncode} without a report")
        report = read_junit(junit)
        if report.total == 0:
            return TestReport(broken=f"pytest exited {proc.returncode} and ran no test")
        return report
