"""The scenario runner: every scenario x N trajectories across chaos variations, in parallel.

    report = run_scenarios(load_suite("/srv/sealed/notifier"), RunOptions(target_dir=Path("."), command=...))

The suite must lie outside the candidate's directory, and is hidden from the
candidate's sandbox; its hash goes in the report. Leaks of scenario text into
the candidate's files or the agent's transcripts fail the evaluation.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from shopfloor.errors import UserError
from shopfloor.sandbox.policy import SandboxPolicy
from shopfloor.validate.leaks import (
    DEFAULT_LEAK_MAX_FILE_BYTES,
    DEFAULT_LEAK_MIN_SHINGLES,
    DEFAULT_SHINGLE_WORDS,
    candidate_files,
    find_leaks,
)
from shopfloor.validate.report import DEFAULT_THRESHOLD, ScenarioReport, ScenarioScore
from shopfloor.validate.suite import Suite
from shopfloor.validate.trajectory import TrajectoryPlan, TrajectoryResult, run_trajectory
from shopfloor.validate.visible import VisibleTests, run_visible_tests

#: Trajectories run at once: one per CPU (each is a sandboxed service plus its twins).
DEFAULT_PARALLELISM = os.cpu_count() or 1


@dataclass
class RunOptions:
    target_dir: Path
    command: str | None = None  # overrides suite.yaml candidate.command
    twins: list[str] | None = None  # overrides suite.yaml twins
    trajectories: int | None = None  # overrides suite.yaml trajectories
    parallel: int = DEFAULT_PARALLELISM
    threshold: float = DEFAULT_THRESHOLD
    visible_tests: str | None = None
    visible_result: VisibleTests | None = None  # counts measured elsewhere (a `shopfloor.tests` node)
    transcripts: list[Path] = field(default_factory=list)
    public: list[Path] = field(default_factory=list)  # what the agent was given (spec, prompts)
    judge_model: str | None = None
    policy: SandboxPolicy | None = None  # `[sandbox]` of shopfloor.toml; the suite is hidden on top
    shingle_words: int = DEFAULT_SHINGLE_WORDS
    leak_min_shingles: int = DEFAULT_LEAK_MIN_SHINGLES
    leak_max_file_bytes: int = DEFAULT_LEAK_MAX_FILE_BYTES


def check_sealed(suite: Suite, target_dir: Path) -> None:
    """The scenarios must not live inside the candidate's directory (nor contain it)."""
    target, sealed = target_dir.resolve(), suite.directory.resolve()
    if sealed.is_relative_to(target) or target.is_relative_to(sealed):
        raise UserError(
            "the scenarios live inside the candidate's directory, where its code could read them",
            where=str(sealed),
            fix="move the suite outside the workspace (e.g. under a protected path)",
        )


def plan_trajectories(suite: Suite, options: RunOptions) -> list[TrajectoryPlan]:
    config = suite.config
    command = options.command or config.candidate.command
    if not command:
        raise UserError(
            "no candidate command",
            where=str(suite.path("suite.yaml")),
            fix='set candidate.command in suite.yaml or pass --target "CMD"',
        )
    n = config.trajectories if options.trajectories is None else options.trajectories
    if n < 1:
        raise UserError(
            "trajectories must be at least 1", where="--trajectories", fix="pass a positive number"
        )
    twins = options.twins if options.twins is not None else config.twins
    return [
        TrajectoryPlan(
            suite=suite,
            scenario=scenario,
            index=i,
            chaos=config.chaos[i % len(config.chaos)],
            workspace=options.target_dir.resolve(),
            command=command,
            twins=list(twins),
            hidden_paths=[suite.directory.resolve()],
            policy=options.policy,
            judge_model=options.judge_model,
        )
        for scenario in suite.scenarios
        for i in range(n)
    ]


def run_scenarios(
    suite: Suite, options: RunOptions, progress: Callable[[TrajectoryResult], None] | None = None
) -> ScenarioReport:
    """Run the suite against the candidate; never raises for the candidate's misbehaviour."""
    target = options.target_dir.resolve()
    if not target.is_dir():
        raise UserError(
            "the candidate's directory does not exist",
            where=str(target),
            fix="pass the directory that holds the candidate's code",
        )
    check_sealed(suite, target)
    for path in [*options.transcripts, *options.public]:
        if not path.is_file():
            raise UserError(
                "file not found", where=str(path), fix="pass an existing transcript or public file"
            )
    plans = plan_trajectories(suite, options)
    if options.parallel < 1:
        raise UserError("parallel must be at least 1", where="--parallel", fix="pass a positive number")
    started = time.monotonic()
    results: list[TrajectoryResult] = []

    # Twins stop on these threads while the next trajectories run; all are stopped before we return.
    with ThreadPoolExecutor(max_workers=options.parallel, thread_name_prefix="twins-stop") as reaper:

        def one(plan: TrajectoryPlan) -> TrajectoryResult:
            result = run_trajectory(plan, defer=reaper.submit)
            if progress is not None:
                progress(result)
            return result

        with ThreadPoolExecutor(max_workers=options.parallel, thread_name_prefix="trajectory") as pool:
            results = list(pool.map(one, plans))
    by_id: dict[str, list[TrajectoryResult]] = {s.id: [] for s in suite.scenarios}
    for result in results:
        by_id[result.scenario].append(result)
    visible = options.visible_result
    if options.visible_tests:
        visible = run_visible_tests(
            options.visible_tests, target, hidden_paths=[suite.directory], policy=options.policy
        )
    files = [*candidate_files(target, options.leak_max_file_bytes), *options.transcripts]
    leaks = find_leaks(
        suite.scenarios,
        files,
        shingle_words=options.shingle_words,
        min_shingles=options.leak_min_shingles,
        max_file_bytes=options.leak_max_file_bytes,
        public=options.public,
    )
    return ScenarioReport(
        suite=str(suite.directory),
        scenario_set_hash=suite.digest,
        target=str(target),
        command=plans[0].command,
        threshold=options.threshold,
        scenarios=[ScenarioScore(s.id, s.title, by_id[s.id]) for s in suite.scenarios],
        visible=visible,
        leaks=leaks,
        duration_s=round(time.monotonic() - started, 3),
        parallel=options.parallel,
    )
