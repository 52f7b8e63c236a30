"""`shopfloor scenarios run` and `shopfloor contracts check`: the validation gauntlet from the shell.

    shopfloor scenarios run DIR --target "CMD" [--twins slack,jira] [--trajectories N] [--json]
    shopfloor contracts check [--base REV] [--json]

Exit codes: 0 passed, 1 failed (below threshold, a leak, a broken contract), 2 bad input.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

scenarios_app = typer.Typer(
    help="Sealed scenarios: satisfaction of a candidate service.", no_args_is_help=True
)
contracts_app = typer.Typer(help="Contract checks on a candidate's code.", no_args_is_help=True)


def _names(raw: str | None) -> list[str] | None:
    return None if raw is None else [n for n in raw.replace(",", " ").split() if n]


@scenarios_app.command("run")
def run_command(
    directory: Path = typer.Argument(..., help="The scenario suite's directory (holding suite.yaml)."),
    target: str | None = typer.Option(None, "--target", help="The candidate's command (else suite.yaml's)."),
    target_dir: Path = typer.Option(
        Path("."), "--target-dir", help="The candidate's directory (its sandbox)."
    ),
    twins: str | None = typer.Option(
        None, "--twins", help="Twins to start, e.g. slack,jira (else suite.yaml's)."
    ),
    trajectories: int | None = typer.Option(
        None, "--trajectories", help="Runs of each scenario (default 3)."
    ),
    parallel: int | None = typer.Option(
        None, "--parallel", help="Trajectories at once (default: CPU count)."
    ),
    threshold: float | None = typer.Option(
        None, "--threshold", help="Satisfaction needed to pass (default 0.9)."
    ),
    visible_tests: str | None = typer.Option(
        None, "--visible-tests", help="The candidate's own test command."
    ),
    transcript: list[Path] = typer.Option([], "--transcript", help="Agent transcript to scan for leaks."),
    public: list[Path] = typer.Option([], "--public", help="What the agent was given (spec): not a leak."),
    redaction: str | None = typer.Option(None, "--redaction", help="Feedback level: count, kind, message."),
    out: Path | None = typer.Option(None, "--out", help="Where report.md/report.json go."),
    as_json: bool = typer.Option(False, "--json", help="Print report.json instead of the Markdown report."),
) -> None:
    """Run every scenario N times against the candidate and score satisfaction."""
    import sys
    import time

    from shopfloor.config import ProjectFile
    from shopfloor.sandbox.policy import SandboxPolicy
    from shopfloor.store import state_dir
    from shopfloor.validate.config import ValidateConfig
    from shopfloor.validate.report import redaction_level
    from shopfloor.validate.runner import RunOptions, run_scenarios
    from shopfloor.validate.suite import load_suite
    from shopfloor.validate.trajectory import TrajectoryResult

    project_file = ProjectFile.load()
    config = project_file.section("validate", ValidateConfig)
    level = redaction_level(redaction or config.redaction, where="--redaction")
    suite = load_suite(directory)
    options = RunOptions(
        target_dir=target_dir,
        command=target,
        twins=_names(twins),
        trajectories=config.trajectories if trajectories is None else trajectories,
        parallel=config.parallel if parallel is None else parallel,
        threshold=config.threshold if threshold is None else threshold,
        visible_tests=visible_tests,
        transcripts=list(transcript),
        public=list(public),
        judge_model=config.judge_model,
        policy=SandboxPolicy.from_config(project_file),
        shingle_words=config.shingle_words,
        leak_min_shingles=config.leak_min_shingles,
        leak_max_file_bytes=config.leak_max_file_bytes,
    )

    def progress(result: TrajectoryResult) -> None:
        if not as_json:
            mark = "✓" if result.satisfied else "✗"
            print(f"{mark} {result.scenario} #{result.index} ({result.duration_s:.1f}s)", file=sys.stderr)

    report = run_scenarios(suite, options, progress=progress)
    out_dir = out or state_dir() / "validate" / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_text(json.dumps(report.to_dict(), indent=2))
    (out_dir / "report.md").write_text(report.to_markdown())
    (out_dir / "feedback.txt").write_text(report.feedback(level) + "\n")
    if as_json:
        typer.echo(json.dumps(report.to_dict()))
    else:
        typer.echo(report.to_markdown())
        typer.echo(f"reports: {out_dir}")
    raise typer.Exit(0 if report.passed else 1)


@contracts_app.command("check")
def check_command(
    project: Path = typer.Option(Path("."), "--project", help="The project to check (default: .)."),
    base: str | None = typer.Option(
        None, "--base", help="Base revision for API compatibility and new tests."
    ),
    only: list[str] = typer.Option([], "--only", help="Check only this kind (layers, forbidden, api, ...)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Run every contract declared under [contracts] in shopfloor.toml."""
    from shopfloor.config import CONFIG_FILE_NAME, ProjectFile
    from shopfloor.validate.config import ValidateConfig
    from shopfloor.validate.contracts.check import check_contracts, load_contracts

    config_path = project / CONFIG_FILE_NAME
    # The project's own shopfloor.toml, else the usual one (--project may be a workspace below it).
    project_file = ProjectFile.load(config_path) if config_path.exists() else ProjectFile.load()
    scenarios = project_file.section("validate", ValidateConfig).scenarios
    report = check_contracts(
        project.resolve(),
        load_contracts(project_file),
        base=base,
        only=only or None,
        hidden_paths=[project / scenarios] if scenarios else [],
    )
    typer.echo(json.dumps(report.to_dict()) if as_json else report.to_markdown())
    raise typer.Exit(0 if report.passed else 1)


def register(app: typer.Typer) -> None:
    app.add_typer(scenarios_app, name="scenarios")
    app.add_typer(contracts_app, name="contracts")
