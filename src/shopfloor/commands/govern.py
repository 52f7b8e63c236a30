"""`shopfloor brake replay` and `shopfloor stop`: the governance commands.

    shopfloor brake replay RUN/events.jsonl [--json] [--config shopfloor.toml]
    shopfloor stop RUN_ID | --all [--json]
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

brake_app = typer.Typer(help="The brake: runaway-agent detectors.", no_args_is_help=True)


@brake_app.command("replay")
def replay_command(
    events: Path = typer.Argument(..., help="A run's events.jsonl, or a JSONL of session events."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    config: Path | None = typer.Option(None, "--config", help="shopfloor.toml with [policy] and [brake]."),
    workspace: str | None = typer.Option(None, "--workspace",
                                         help="The agent's working directory, if the log does not say."),
) -> None:
    """Run the detectors offline over a recorded event log: where each fired first, and why."""
    from shopfloor.config import ProjectFile
    from shopfloor.govern.brake.config import load_brake_config
    from shopfloor.govern.brake.replay import replay
    from shopfloor.govern.policy import load_policy

    project = ProjectFile.load(config)
    report = replay(events, load_policy(project), load_brake_config(project), workspace)
    if as_json:
        typer.echo(json.dumps(report.to_dict()))
        return
    first = report.first()
    typer.echo(f"{report.events} events replayed from {events}")
    for name in report.detectors:
        iv = first.get(name)
        if iv is None:
            typer.echo(f"  {name:<12} did not fire")
        else:
            up = next((x for x in report.interventions if x.detector == name and x.escalated), None)
            tail = f"; escalated ({up.action}) at event {up.index}" if up else ""
            typer.echo(f"  {name:<12} fired at event {iv.index}: {iv.reason}{tail}")


def stop_command(
    run_id: str | None = typer.Argument(None, help="The run to stop (see the run registry)."),
    all_runs: bool = typer.Option(False, "--all", help="Stop every live run and kill leftover sandboxes."),
    kill_after: float | None = typer.Option(None, "--kill-after", min=0.0,
                                            help="Seconds to wait for a run to stop itself before killing "
                                                 "it (default: DEFAULT_KILL_AFTER_S, 10)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Emergency stop: the run cancels its LLM calls, kills its sandboxes, checkpoints and ends stopped."""
    from shopfloor.errors import UserError
    from shopfloor.govern.stop import DEFAULT_KILL_AFTER_S, stop_runs

    if (run_id is None) == (not all_runs):
        raise UserError("name one run or pass --all", where="shopfloor stop",
                        fix="shopfloor stop RUN_ID, or shopfloor stop --all")
    results = stop_runs(None if all_runs else [run_id or ""],
                        kill_after_s=DEFAULT_KILL_AFTER_S if kill_after is None else kill_after)
    if as_json:
        typer.echo(json.dumps({"results": [r.to_dict() for r in results]}))
    else:
        if not results:
            typer.echo("no live runs")
        for r in results:
            typer.echo(f"{r.run_id}: {r.outcome} in {r.elapsed_s:.2f}s — {r.message}")
    raise typer.Exit(1 if any(r.outcome == "stopping" for r in results) else 0)


def register(app: typer.Typer) -> None:
    app.add_typer(brake_app, name="brake")
    app.command("stop")(stop_command)
