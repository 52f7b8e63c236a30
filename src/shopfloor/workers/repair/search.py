"""The repair search: localize, mutate, evaluate in parallel, climb, repeat.

Hill climbing over single edits: a candidate is accepted when it makes more
visible tests pass than the current program without breaking any that passed,
and the search restarts from it (so several independent defects are fixed one
after another). Candidates are evaluated in batches, in parallel, each worker
in its own copy of the project; within a batch the first improving candidate
in generation order wins, so a seed always gives the same repair.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import itertools
import os
import queue
import random
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, Field

from shopfloor.sandbox.bwrap import SandboxedExecutionEnvironment
from shopfloor.sandbox.environment import ExecutionEnvironment
from shopfloor.workers.repair.localize import SuspiciousLine, localize
from shopfloor.workers.repair.mutate import OPERATOR_TIERS, Mutant, mutants_at
from shopfloor.workers.repair.testrun import DEFAULT_TEST_TIMEOUT_S, TestCommand, TestReport

#: Candidates evaluated before the search gives up.
DEFAULT_CANDIDATE_BUDGET = 400
#: Most suspicious lines considered per round.
DEFAULT_MAX_SUSPICIOUS_LINES = 30
_IGNORED = shutil.ignore_patterns(".git", "__pycache__", ".pytest_cache", "*.pyc", ".venv", ".shopfloor")


class RepairConfig(BaseModel):
    test_args: list[str] = Field(default_factory=lambda: ["tests"],
                                 description="arguments to pytest selecting the visible tests")
    sources: list[str] | None = Field(None, description="files the search may edit, relative to the "
                                      "project; default: every .py file outside tests")
    candidate_budget: int = Field(DEFAULT_CANDIDATE_BUDGET, ge=1)
    workers: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)
    seed: int = 0
    test_timeout_s: float = Field(DEFAULT_TEST_TIMEOUT_S, gt=0)
    max_suspicious_lines: int = Field(DEFAULT_MAX_SUSPICIOUS_LINES, ge=1)
    excluded_patches: list[str] = Field(
        default_factory=list,
        description="sha256 digests of patches rejected downstream (by sealed scenarios): never again")
    load_pytest_plugins: bool = Field(False, description="autoload installed pytest plugins in test runs "
                                      "(off: faster start-up; turn on when the tests need a plugin)")

    @property
    def tests(self) -> TestCommand:
        return TestCommand(tuple(self.test_args), self.test_timeout_s, self.load_pytest_plugins)


@dataclass
class RepairResult:
    repaired: bool
    initial: TestReport
    final: TestReport
    edits: list[Mutant] = field(default_factory=list)
    candidates_evaluated: int = 0
    duration_s: float = 0.0
    patch: str = ""

    def summary(self) -> str:
        state = "repaired" if self.repaired else "not repaired"
        return (f"{state}: {len(self.final.passed)}/{self.final.total} visible tests pass "
                f"(was {len(self.initial.passed)}/{self.initial.total}); {len(self.edits)} edit(s), "
                f"{self.candidates_evaluated} candidates, {self.duration_s:.1f}s")


def default_sources(project: Path, test_args: list[str]) -> list[str]:
    test_roots = {a.split("::")[0].rstrip("/") for a in test_args if not a.startswith("-")}
    out = []
    for path in sorted(project.rglob("*.py")):
        rel = path.relative_to(project).as_posix()
        parts = rel.split("/")
        if any(p.startswith(".") or p in ("__pycache__", "tests", "test") for p in parts):
            continue
        if parts[-1].startswith("test_") or parts[-1] in ("conftest.py", "setup.py"):
            continue
        if any(rel == r or rel.startswith(r + "/") for r in test_roots):
            continue
        out.append(rel)
    return out


def unified_patch(original: dict[str, str], current: dict[str, str]) -> str:
    return "".join(
        "".join(difflib.unified_diff(original[rel].splitlines(keepends=True),
                                     current[rel].splitlines(keepends=True), f"a/{rel}", f"b/{rel}"))
        for rel in sorted(original) if current[rel] != original[rel])


def patch_digest(patch: str) -> str:
    return hashlib.sha256(patch.encode()).hexdigest()


def _fitness(report: TestReport) -> int:
    return -1 if report.broken else len(report.passed)


EnvironmentFactory = Callable[[Path], ExecutionEnvironment]


class _Workers:
    """One private copy of the project, in its own environment, per worker thread."""

    def __init__(self, project: Path, count: int, tmp: Path, factory: EnvironmentFactory) -> None:
        self.idle: queue.Queue[ExecutionEnvironment] = queue.Queue()
        self.all: list[ExecutionEnvironment] = []
        for i in range(count):
            copy = tmp / f"worker-{i}"
            shutil.copytree(project, copy, ignore=_IGNORED, symlinks=True)
            env = factory(copy)
            env.initialize()
            self.idle.put(env)
            self.all.append(env)

    def write_everywhere(self, rel: str, text: str) -> None:
        for env in self.all:
            (Path(env.working_directory()) / rel).write_text(text)

    def close(self) -> None:
        for env in self.all:
            env.cleanup()


def _evaluate(workers: _Workers, mutant: Mutant, original: dict[str, str], current: dict[str, str],
              baseline: TestReport, config: RepairConfig) -> TestReport | None:
    """Full report when the candidate improves on `baseline`, else None. Stage one re-runs only
    the failing tests: if none of them now passes, the candidate cannot improve. A program that
    passes everything but was already rejected downstream is no improvement."""
    env = workers.idle.get()
    target = Path(env.working_directory()) / mutant.path
    try:
        target.write_text(mutant.source)
        first = config.tests.run(env, list(baseline.failed_node_ids))
        if first.broken or not first.passed:
            return None
        report = config.tests.run(env)
        improves = (not report.broken and baseline.passed <= report.passed
                    and _fitness(report) > _fitness(baseline))
        if improves and report.all_passed and config.excluded_patches:
            candidate = {**current, mutant.path: mutant.source}
            improves = patch_digest(unified_patch(original, candidate)) not in config.excluded_patches
        return report if improves else None
    finally:
        target.write_text(current[mutant.path])
        workers.idle.put(env)


def _candidates(ranked: list[SuspiciousLine], current: dict[str, str], config: RepairConfig,
                rng: random.Random) -> Iterator[Mutant]:
    """Cheap operator edits at every suspicious line before any statement-level edit anywhere.

    Most real defects are a wrong operator or constant, so a tier is exhausted across
    the top lines (most suspicious first) before the next, more disruptive tier starts.
    """
    top = ranked[: config.max_suspicious_lines]
    # Equally suspicious lines are visited in seeded order; better scores always come first.
    keyed = sorted(top, key=lambda s: (-s.score, rng.random()))
    per_line = [list(mutants_at(spot.path, current[spot.path], spot.line, rng)) for spot in keyed]
    for tier in OPERATOR_TIERS:
        for mutants in per_line:
            yield from (m for m in mutants if m.operator in tier)


def _first_improvement(pool: ThreadPoolExecutor, workers: _Workers, stream: Iterator[Mutant],
                       original: dict[str, str], current: dict[str, str], baseline: TestReport,
                       config: RepairConfig,
                       budget: int, stop: threading.Event | None,
                       ) -> tuple[tuple[Mutant, TestReport] | None, int]:
    """Evaluate the stream in parallel batches until a candidate improves; return it and the count spent."""
    spent = 0
    while spent < budget and not (stop and stop.is_set()):
        batch = list(itertools.islice(stream, min(config.workers * 2, budget - spent)))
        if not batch:
            break
        results = list(pool.map(lambda m: _evaluate(workers, m, original, current, baseline, config), batch))
        spent += len(batch)
        for mutant, result in zip(batch, results, strict=True):
            if result is not None:
                return (mutant, result), spent
    return None, spent


def repair_project(project: Path, config: RepairConfig | None = None, *,
                   environment: EnvironmentFactory = SandboxedExecutionEnvironment,
                   stop: threading.Event | None = None) -> RepairResult:
    """Repair `project` in place so its visible tests pass; return what was done.

    Every test run happens in a private copy of the project inside `environment`
    (a bubblewrap sandbox by default: mutants are untrusted code). Setting `stop` ends
    the search after the batch in flight; the best program found so far is kept.
    """
    config = config or RepairConfig()
    project = Path(project).resolve()
    started = time.monotonic()
    rng = random.Random(config.seed)
    sources = config.sources or default_sources(project, config.test_args)
    original = {rel: (project / rel).read_text() for rel in sources}
    current = dict(original)

    with tempfile.TemporaryDirectory(prefix="shopfloor-repair-") as tmp, \
            contextlib.closing(_Workers(project, config.workers, Path(tmp), environment)) as workers:
        initial, ranked = localize(workers.all[0], config.tests, sources)
        report, edits, evaluated = initial, [], 0
        with ThreadPoolExecutor(config.workers) as pool:
            while ranked and not report.all_passed and evaluated < config.candidate_budget:
                stream = _candidates(ranked, current, config, rng)
                accepted, spent = _first_improvement(pool, workers, stream, original, current, report, config,
                                                     config.candidate_budget - evaluated, stop)
                evaluated += spent
                if accepted is None:
                    break
                mutant, report = accepted
                edits.append(mutant)
                current[mutant.path] = mutant.source
                workers.write_everywhere(mutant.path, mutant.source)
                if not report.all_passed:
                    report, ranked = localize(workers.all[0], config.tests, sources)

    patch = unified_patch(original, current)
    for rel in sources:
        if current[rel] != original[rel]:
            (project / rel).write_text(current[rel])
    return RepairResult(report.all_passed, initial, report, edits, evaluated,
                        time.monotonic() - started, patch)
