"""`shopfloor parse | validate | render`: look at a pipeline without running it.

    shopfloor parse PIPELINE.dot                    the JSON AST on stdout
    shopfloor validate PIPELINE.dot [--json]        diagnostics; exit 1 when any is an error
    shopfloor render PIPELINE.dot -o FILE.svg [--logs-root DIR] [--timeout S]

Malformed DOT and missing files exit 2 with one line on stderr.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from shopfloor.pipeline.diagnostics import Diagnostic

EXIT_OK, EXIT_ERRORS = 0, 1


def _print_table(path: Path, diagnostics: list[Diagnostic]) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from shopfloor.pipeline.diagnostics import Severity, in_source_order

    console = Console(highlight=False)
    errors = sum(1 for d in diagnostics if d.severity is Severity.ERROR)
    warnings = sum(1 for d in diagnostics if d.severity is Severity.WARNING)
    if not diagnostics:
        console.print(f"[green]ok[/green] {escape(str(path))}: no problems found")
        return
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for column in ("location", "severity", "rule", "node/edge", "message"):
        table.add_column(column, overflow="fold")
    styles = {Severity.ERROR: "red", Severity.WARNING: "yellow", Severity.INFO: "blue"}
    for diag in in_source_order(diagnostics):
        loc = f"{diag.loc.line}:{diag.loc.col}" if diag.loc else ""
        message = escape(diag.message) + (f"\n[dim]fix: {escape(diag.fix)}[/dim]" if diag.fix else "")
        table.add_row(loc, f"[{styles[diag.severity]}]{diag.severity.value}[/]", diag.rule,
                      escape(diag.subject), message)
    console.print(table)
    verdict = "[red]invalid[/red]" if errors else "[green]valid[/green]"
    console.print(f"{verdict} {escape(str(path))}: {errors} error(s), {warnings} warning(s)")


def parse_command(pipeline: Path = typer.Argument(..., help="The pipeline .dot file.")) -> None:
    """Print the pipeline's JSON AST: graph attributes, nodes and edges, as written."""
    from shopfloor.pipeline.prepare import parse_pipeline

    typer.echo(json.dumps(parse_pipeline(pipeline).to_dict(), indent=2))


def validate_command(
    pipeline: Path = typer.Argument(..., help="The pipeline .dot file."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Lint the pipeline: rule, severity, node or edge, message. Exit 1 when there are errors."""
    from shopfloor.assembly import pipeline_preparer
    from shopfloor.pipeline.diagnostics import report
    from shopfloor.pipeline.parser import DotSyntaxError
    from shopfloor.pipeline.prepare import syntax_diagnostic

    try:
        preparer = pipeline_preparer()
        diagnostics, syntax_error = preparer.check(pipeline).diagnostics, None
    except DotSyntaxError as exc:
        diagnostics, syntax_error = [syntax_diagnostic(exc)], exc
    result = report(diagnostics, str(pipeline))
    if as_json:
        typer.echo(json.dumps(result))
    if syntax_error is not None:
        raise syntax_error  # bad input: one line on stderr, exit 2
    if not as_json:
        _print_table(pipeline, diagnostics)
    raise typer.Exit(EXIT_OK if result["valid"] else EXIT_ERRORS)


def render_command(
    pipeline: Path = typer.Argument(..., help="The pipeline .dot file."),
    output: Path = typer.Option(..., "-o", "--output",
                                help="Where to write the drawing (.svg, .png or .pdf)."),
    logs_root: Path | None = typer.Option(None, "--logs-root",
                                          help="A run directory: colour nodes by their outcome in it."),
    timeout: float | None = typer.Option(None, "--timeout", help="Seconds Graphviz may take (default 60)."),
) -> None:
    """Draw the pipeline with Graphviz; with --logs-root, nodes are coloured by outcome."""
    from shopfloor.pipeline.prepare import parse_pipeline
    from shopfloor.pipeline.render import DEFAULT_RENDER_TIMEOUT_S, render

    graph = parse_pipeline(pipeline)
    outcomes = render(graph, output, logs_root=logs_root,
                      timeout_s=DEFAULT_RENDER_TIMEOUT_S if timeout is None else timeout)
    ran = f", {len(outcomes)} node outcome(s) from {logs_root}" if logs_root else ""
    typer.echo(f"wrote {output}{ran}")


def register(app: typer.Typer) -> None:
    app.command("parse")(parse_command)
    app.command("validate")(validate_command)
    app.command("render")(render_command)
