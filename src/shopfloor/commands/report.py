"""`shopfloor report --logs-root DIR [-o FILE] [--json]`: the run report as one HTML file."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report(
        logs_root: Path = typer.Option(..., "--logs-root", help="The run directory."),
        output: Path | None = typer.Option(None, "-o", "--output", help="Default: {logs_root}/report.html."),
        as_json: bool = typer.Option(False, "--json", help="Print the run summary as JSON."),
    ) -> None:
        """Write a run's report: graph, figures, costs and timeline."""
        from shopfloor.observe.report import write_report

        path, summary = write_report(logs_root, output)
        if as_json:
            print(json.dumps({"report": str(path), **asdict(summary)}, default=str))
        else:
            typer.echo(f"{summary.name}: {summary.status} in {summary.duration_s:.1f}s, "
                       f"${summary.cost_usd:.4f}, {summary.tokens} tokens — report: {path}")
