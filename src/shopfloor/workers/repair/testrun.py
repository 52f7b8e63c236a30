"""Running a project's visible tests and reading which ones passed.

pytest writes a JUnit XML report; test ids are `module.Class.test_name` with
parametrization stripped, the same shape coverage.py uses for its per-test
contexts, so localization can join the two.
"""

from __future__ import annotations

import shlex
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from shopfloor.sandbox.environment import ExecutionEnvironment

#: Wall-clock limit for one run of the visible tests; a mutant can loop forever.
DEFAULT_TEST_TIMEOUT_S = 30.0
#: The JUnit report pytest writes into the workspace; removed after each run.
JUNIT_NAME = ".shopfloor-junit.xml"


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


def pytest_command(test_args: list[str], junit: str, *, coverage_rc: str | None = None) -> list[str]:
    runner = [sys.executable, "-m"]
    if coverage_rc is not None:
        runner += ["coverage", "run", f"--rcfile={coverage_rc}", "-m"]
    return [*runner, "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
            "-o", "junit_family=xunit1", f"--junitxml={junit}", *test_args]


def run_tests(env: ExecutionEnvironment, test_args: list[str], *, timeout_s: float = DEFAULT_TEST_TIMEOUT_S,
              coverage_rc: str | None = None, load_plugins: bool = False) -> TestReport:
    """Run pytest in `env`'s working directory; a timeout kills the whole process tree.

    The report is written inside the workspace because a sandbox has a private /tmp.
    """
    workdir = Path(env.working_directory())
    junit = workdir / JUNIT_NAME
    junit.unlink(missing_ok=True)
    result = env.exec_command(shlex.join(pytest_command(test_args, JUNIT_NAME, coverage_rc=coverage_rc)),
                              timeout_ms=int(timeout_s * 1000),
                              env_vars={"PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(workdir),
                                        **({} if load_plugins else {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})})
    try:
        if result.timed_out:
            return TestReport(broken=f"timed out after {timeout_s:g}s")
        if result.limit:
            return TestReport(broken=f"stopped by the sandbox's {result.limit} limit")
        if not junit.exists():
            return TestReport(broken=f"pytest exited {result.exit_code} without a report")
        report = read_junit(junit)
    finally:
        junit.unlink(missing_ok=True)
    if report.total == 0:
        return TestReport(broken=f"pytest exited {result.exit_code} and ran no test")
    return report


@dataclass(frozen=True)
class TestCommand:
    """How one project's visible tests are run, bound once for every run of the search."""

    args: tuple[str, ...]
    timeout_s: float = DEFAULT_TEST_TIMEOUT_S
    load_plugins: bool = False

    def run(self, env: ExecutionEnvironment, only: list[str] | None = None, *,
            coverage_rc: str | None = None) -> TestReport:
        """All the visible tests, or `only` these pytest node ids."""
        return run_tests(env, list(self.args) if only is None else only, timeout_s=self.timeout_s,
                         coverage_rc=coverage_rc, load_plugins=self.load_plugins)
