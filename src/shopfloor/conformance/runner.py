"""`shopfloor conformance run <dotfile>` and `shopfloor conformance list-handlers` (CONFORMANCE.md).

`run` executes the pipeline with human gates auto-approved and prints
{status, completed_nodes, node_outcomes, context, logs_root, run_id}. Codergen
nodes go to the "agent" backend when one is registered and an LLM provider is
configured in the environment, else to the offline simulate backend.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import typer

#: Environment variables that mean an LLM provider is configured (an empty value counts as unset).
PROVIDER_KEYS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY")
AGENT_BACKEND = "agent"


def choose_backend() -> str:
    from shopfloor import assembly

    if AGENT_BACKEND in assembly.BACKENDS and any(os.environ.get(k) for k in PROVIDER_KEYS):
        return AGENT_BACKEND
    return assembly.DEFAULT_BACKEND


def run_command(dotfile: Path = typer.Argument(..., help="The pipeline .dot file.")) -> None:
    """Execute a pipeline and print the execution result as one JSON object."""
    from shopfloor import assembly
    from shopfloor.commands.run import exit_code, load_graph
    from shopfloor.config import ProjectFile
    from shopfloor.pipeline.interviewer import AutoApproveInterviewer
    from shopfloor.pipeline.runner import start_run

    graph, source = load_graph(dotfile, quiet=True)
    logs_root = Path(tempfile.mkdtemp(prefix="shopfloor-conformance-run-"))
    factory = assembly.registry_factory(choose_backend())
    result = start_run(graph, logs_root=logs_root, registry_factory=factory,
                       interviewer=AutoApproveInterviewer(), dot_source=source, config=ProjectFile(None, {}))
    typer.echo(json.dumps(result.to_json(), default=str))
    raise typer.Exit(exit_code(result))


def list_handlers_command() -> None:
    """Print the registered handler types as a JSON array."""
    from shopfloor import assembly

    typer.echo(json.dumps(assembly.registered_handler_types()))


def register(app: typer.Typer) -> None:
    app.command("run")(run_command)
    app.command("list-handlers")(list_handlers_command)
