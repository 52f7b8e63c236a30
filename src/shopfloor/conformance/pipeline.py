"""`shopfloor conformance parse | validate` (CONFORMANCE.md, pipeline runner).

    parse <dotfile>     the JSON AST; malformed DOT exits 2 with the error on stderr
    validate <dotfile>  one JSON object {"valid", "errors", "warnings", "diagnostics": [...]};
                        exit 1 when any diagnostic is an error (a syntax error is one, rule "syntax")
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer


def parse_command(dotfile: Path = typer.Argument(..., help="The pipeline .dot file.")) -> None:
    """Print the JSON AST: nodes (id, attributes) and edges (from, to, attributes)."""
    from shopfloor.pipeline.prepare import parse_pipeline

    typer.echo(json.dumps(parse_pipeline(dotfile).to_dict()))


def validate_command(dotfile: Path = typer.Argument(..., help="The pipeline .dot file.")) -> None:
    """Print the diagnostics as JSON: rule, severity, node or edge, message."""
    from shopfloor.assembly import pipeline_preparer
    from shopfloor.pipeline.diagnostics import report

    diagnostics = pipeline_preparer().diagnose(dotfile)
    result = report(diagnostics, str(dotfile))
    typer.echo(json.dumps(result))
    for diag in diagnostics:
        print(diag.line(), file=sys.stderr)
    raise typer.Exit(0 if result["valid"] else 1)


def register(app: typer.Typer) -> None:
    app.command("parse")(parse_command)
    app.command("validate")(validate_command)
