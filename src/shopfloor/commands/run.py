"""`shopfloor run` and `shopfloor resume`: execute a pipeline, or continue an interrupted run.

    shopfloor run PIPELINE.dot [--logs-root DIR] [--backend simulate] [--answers FILE | --auto-approve]
                               [--set KEY=VALUE]... [--config shopfloor.toml] [--json]
    shopfloor resume --logs-root DIR [--backend NAME] [--answers FILE | --auto-approve] [--json]
                     [--budget-usd N] [--budget-tokens N]

Exit codes: 0 the pipeline succeeded, 1 it failed, 2 invalid input, 130 stopped
(SIGINT/SIGTERM or `shopfloor stop`; the run is checkpointed and resumable).
"""

from __future__ import annotations

import json
import re
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from shopfloor.errors import UserError

if TYPE_CHECKING:
    from shopfloor.pipeline.engine import RunResult
    from shopfloor.pipeline.graph import Graph
    from shopfloor.pipeline.interviewer import Interviewer

EXIT_SUCCESS, EXIT_FAIL, EXIT_STOPPED = 0, 1, 130
_SET_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$")


def parse_set_values(pairs: list[str]) -> dict[str, Any]:
    """`--set key=value`: JSON scalars (numbers, true/false, null) are typed, anything else is a string."""
    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep:
            raise UserError(f"--set {pair!r} has no '='", where="--set", fix="write --set KEY=VALUE")
        if not _SET_KEY_RE.match(key):
            raise UserError(f"--set key {key!r} is not a valid context key", where="--set",
                            fix="use letters, digits, '_' and dots, e.g. --set context.env=staging")
        if key.startswith(("internal.", "graph.")):
            raise UserError(f"--set key {key!r} is reserved for the engine", where="--set",
                            fix="choose a key outside internal.* and graph.*")
        try:
            value = json.loads(raw)
            values[key] = value if isinstance(value, int | float | bool) or value is None else raw
        except json.JSONDecodeError:
            values[key] = raw
    return values


def load_graph(path: Path | str, *, quiet: bool) -> tuple[Graph, str]:
    """Parse, transform, validate (as `shopfloor validate` does); warnings to stderr unless `quiet`."""
    from shopfloor.assembly import pipeline_preparer

    prepared = pipeline_preparer().prepare(Path(path))
    if not quiet:
        for diag in prepared.warnings:
            print(f"shopfloor: warning: {diag.line()}", file=sys.stderr)
    return prepared.graph, prepared.source


def make_interviewer(answers: Path | None, auto_approve: bool, stop: threading.Event,
                     consumed: dict[str, int] | None = None) -> tuple[Interviewer, str]:
    from shopfloor.pipeline import interviewer as iv

    if answers is not None and auto_approve:
        raise UserError("--answers and --auto-approve exclude each other", where="command line",
                        fix="pass one of them")
    if auto_approve:
        return iv.AutoApproveInterviewer(), "auto-approve"
    if answers is not None:
        scripted = iv.AnswersFileInterviewer.load(answers)
        scripted.consumed = dict(consumed or {})
        return scripted, "answers"
    return iv.ConsoleInterviewer(stop_event=stop), "console"


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT/SIGTERM ask the engine to stop at the next safe point; a second SIGINT aborts."""
    def handler(signum: int, frame: object) -> None:
        if signum == signal.SIGINT and stop.is_set():
            raise KeyboardInterrupt
        print(f"shopfloor: {signal.Signals(signum).name} received, stopping after a checkpoint "
              "(resume with `shopfloor resume`)", file=sys.stderr)
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def exit_code(result: RunResult) -> int:
    return {"success": EXIT_SUCCESS, "stopped": EXIT_STOPPED}.get(result.status, EXIT_FAIL)


def report(result: RunResult, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(result.to_json(), default=str))
        return
    from rich.console import Console
    from rich.markup import escape

    console = Console()
    colour = {"success": "green", "fail": "red"}.get(result.status, "yellow")
    console.print(f"[bold {colour}]{result.status}[/] — {len(result.completed_nodes)} nodes, "
                  f"logs in {result.logs_root}", highlight=False)
    if result.outcome.failure_reason:
        console.print(f"  reason: {escape(result.outcome.failure_reason)}", highlight=False)
    if result.status == "stopped":
        console.print(f"  resume with: shopfloor resume --logs-root {result.logs_root}", highlight=False)


def _observers(as_json: bool) -> list[Any]:
    if as_json or not sys.stderr.isatty():
        return []
    from shopfloor.commands.run_progress import ProgressPrinter

    return [ProgressPrinter()]


def _set_aside_finished_run(logs_root: Path) -> None:
    """Move a finished run in the way to `{logs_root}.{run_id}` (never delete); refuse an unfinished one."""
    from shopfloor.pipeline.checkpoint import FINISHED_STATES, Checkpoint

    if not Checkpoint.exists(logs_root):
        return
    ckpt = Checkpoint.load(logs_root)
    if ckpt.status not in FINISHED_STATES:
        raise UserError(f"logs root holds an unfinished run ({ckpt.status})", where=str(logs_root),
                        fix=f"continue it with `shopfloor resume --logs-root {logs_root}` "
                            "or pick another directory")
    aside = logs_root.with_name(f"{logs_root.name}.{ckpt.run_id or 'previous'}")
    logs_root.rename(aside)
    print(f"shopfloor: previous run in {logs_root} moved to {aside}", file=sys.stderr)


def run_command(
    pipeline: Path = typer.Argument(..., help="The pipeline .dot file."),
    logs_root: Path | None = typer.Option(None, "--logs-root", help="Run directory (default runs/<run-id>)."),
    backend: str = typer.Option("simulate", "--backend", help="Codergen backend: a name from BACKENDS."),
    answers: Path | None = typer.Option(None, "--answers", help='Human-gate answers: {"stage": "A"}.'),
    auto_approve: bool = typer.Option(False, "--auto-approve", help="Human gates take their first option."),
    set_values: list[str] = typer.Option([], "--set", help="Initial context value KEY=VALUE (repeatable)."),
    config: Path | None = typer.Option(None, "--config", help="shopfloor.toml (default ./shopfloor.toml)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object with the result."),
) -> None:
    """Run a pipeline: exit 0 on success, 1 on failure, 2 on invalid input, 130 when stopped."""
    from shopfloor import assembly
    from shopfloor.config import ProjectFile
    from shopfloor.observe.runs import registered_run
    from shopfloor.pipeline.run_dir import Manifest
    from shopfloor.pipeline.runner import DEFAULT_RUNS_DIR, new_run_id, start_run

    initial = parse_set_values(set_values)
    project = ProjectFile.load(config)
    factory = assembly.registry_factory(backend)
    stop = threading.Event()
    interviewer, mode = make_interviewer(answers, auto_approve, stop)
    graph, source = load_graph(pipeline, quiet=as_json)
    manifest = Manifest(new_run_id(graph.name), graph.name, graph.goal, time.time(), pipeline=str(pipeline),
                        backend=backend, interviewer=mode,
                        answers_file=str(answers.resolve()) if answers else "", initial_context=initial)
    root = logs_root or Path(DEFAULT_RUNS_DIR) / manifest.run_id
    _set_aside_finished_run(root)
    with stop_on_signals(stop):
        result = registered_run(manifest.run_id, str(pipeline), root, lambda: start_run(
            graph, logs_root=root, registry_factory=factory, interviewer=interviewer, manifest=manifest,
            dot_source=source, config=project, observers=_observers(as_json), stop_event=stop))
    report(result, as_json)
    raise typer.Exit(exit_code(result))


def resume_command(
    logs_root: Path = typer.Option(..., "--logs-root", help="The run directory to continue."),
    backend: str | None = typer.Option(None, "--backend", help="Override the backend the run started with."),
    answers: Path | None = typer.Option(None, "--answers", help="JSON answers for human gates."),
    auto_approve: bool = typer.Option(False, "--auto-approve", help="Human gates take their first option."),
    config: Path | None = typer.Option(None, "--config", help="shopfloor.toml (default ./shopfloor.toml)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object with the result."),
    budget_usd: float | None = typer.Option(None, "--budget-usd", help="Raise the run's total USD budget."),
    budget_tokens: int | None = typer.Option(None, "--budget-tokens", help="Raise the run's token budget."),
) -> None:
    """Continue an interrupted run from its checkpoint; nodes that completed are not run again."""
    from shopfloor import assembly
    from shopfloor.config import ProjectFile
    from shopfloor.observe.runs import registered_run
    from shopfloor.pipeline.checkpoint import Checkpoint
    from shopfloor.pipeline.run_dir import RunDir
    from shopfloor.pipeline.runner import resume_run

    run_dir = RunDir(logs_root)
    manifest = run_dir.read_manifest()
    if manifest is None or not run_dir.pipeline_copy_path.exists():
        raise UserError("not a run directory (no manifest.json / pipeline.dot)", where=str(logs_root),
                        fix="pass the --logs-root of a run started with `shopfloor run`")
    project = ProjectFile.load(config)
    if budget_usd is not None or budget_tokens is not None:  # a run stopped by its budget goes on with more
        from shopfloor.govern.budget_store import raise_limits

        raise_limits(logs_root, usd=budget_usd, tokens=budget_tokens)
    factory = assembly.registry_factory(backend or manifest.backend)
    stop = threading.Event()
    if not answers and not auto_approve:
        auto_approve = manifest.interviewer == "auto-approve"
        answers = Path(manifest.answers_file) if manifest.interviewer == "answers" else None
    visits = Counter(Checkpoint.load(logs_root).completed_nodes) if answers else Counter()
    interviewer, _ = make_interviewer(answers, auto_approve, stop, consumed=dict(visits))
    graph, _ = load_graph(run_dir.pipeline_copy_path, quiet=as_json)
    if manifest.pipeline:
        graph.filename = manifest.pipeline  # child pipelines resolve relative to the original file
    with stop_on_signals(stop):
        result = registered_run(manifest.run_id, manifest.pipeline, logs_root, lambda: resume_run(
            graph, logs_root=logs_root, registry_factory=factory, interviewer=interviewer, config=project,
            observers=_observers(as_json), stop_event=stop))
    report(result, as_json)
    raise typer.Exit(exit_code(result))


def register(app: typer.Typer) -> None:
    app.command("run")(run_command)
    app.command("resume")(resume_command)
