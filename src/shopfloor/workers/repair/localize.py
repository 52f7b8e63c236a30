"""Spectrum-based fault localization: which lines do failing tests run that passing ones don't?

Each executable line of the project's own sources gets an Ochiai score,
ef / sqrt(total_failed * (ef + ep)), where ef and ep count the failing and
passing tests that executed it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import coverage

from shopfloor.sandbox.environment import ExecutionEnvironment
from shopfloor.workers.repair.testrun import TestCommand, TestReport

#: Coverage's config and data live in the workspace: a sandbox has a private /tmp.
COVERAGE_RC_NAME = ".shopfloor-coveragerc"
COVERAGE_DATA_NAME = ".shopfloor-coverage"


@dataclass(frozen=True, order=True)
class SuspiciousLine:
    score: float
    path: str  # relative to the project root
    line: int


def _covering_tests(data: coverage.CoverageData, path: str, report: TestReport) -> dict[int, set[str]]:
    """line → ids of tests that ran it; coverage contexts are suffixes of JUnit ids."""
    known = report.passed | report.failed
    by_line: dict[int, set[str]] = {}
    for line, contexts in data.contexts_by_lineno(path).items():
        tests = {tid for ctx in contexts if ctx for tid in known if tid == ctx or tid.endswith("." + ctx)}
        if tests:
            by_line[line] = tests
    return by_line


def localize(env: ExecutionEnvironment, tests: TestCommand,
             sources: list[str]) -> tuple[TestReport, list[SuspiciousLine]]:
    """Run the tests under coverage; return the report and lines ranked most suspicious first."""
    workdir = Path(env.working_directory())
    rc, data_file = workdir / COVERAGE_RC_NAME, workdir / COVERAGE_DATA_NAME
    rc.write_text(f"[run]\ndynamic_context = test_function\ndata_file = {data_file}\nsource = {workdir}\n")
    try:
        report = tests.run(env, coverage_rc=rc.name)
        if report.broken or not report.failed:
            return report, []
        data = coverage.CoverageData(basename=str(data_file))
        data.read()
        return report, _rank(data, workdir, sources, report)
    finally:
        rc.unlink(missing_ok=True)
        data_file.unlink(missing_ok=True)


def _rank(data: coverage.CoverageData, workdir: Path, sources: list[str],
          report: TestReport) -> list[SuspiciousLine]:
    measured = {str(Path(p).resolve()): p for p in data.measured_files()}
    ranked: list[SuspiciousLine] = []
    for rel in sources:
        measured_path = measured.get(str((workdir / rel).resolve()))
        if measured_path is None:
            continue
        for line, tests in _covering_tests(data, measured_path, report).items():
            ef = len(tests & report.failed)
            ep = len(tests & report.passed)
            if ef:
                ranked.append(SuspiciousLine(ef / math.sqrt(len(report.failed) * (ef + ep)), rel, line))
    ranked.sort(key=lambda s: (-s.score, s.path, s.line))
    return ranked
