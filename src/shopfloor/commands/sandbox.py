"""`shopfloor sandbox …`: run one command in the sandbox, and manage workspaces.

    shopfloor sandbox exec [--workspace DIR] [--allow-port N]... [--timeout S] [--memory MB] [--json]
                           -- CMD...
    shopfloor sandbox workspace create [--project DIR] [--revision REV] [--name NAME] [--json]
    shopfloor sandbox workspace list [--json]
    shopfloor sandbox workspace keep NAME
    shopfloor sandbox workspace discard NAME
    shopfloor sandbox workspace prune [--min-age S]

`exec` exits with the command's own exit code; when a limit stopped it, with
that limit's code (124 timeout, 137 memory, 152 CPU, 153 file size, 154
processes) and one line on stderr saying which limit and its value.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

#: Wall-clock limit for `sandbox exec` when --timeout is not given (the spec's upper bound).
DEFAULT_EXEC_TIMEOUT_S = 600.0

sandbox_app = typer.Typer(help="Run commands in the bubblewrap sandbox; manage workspaces.",
                          no_args_is_help=True)
workspace_app = typer.Typer(help="Copy-on-write workspaces of a project at a git revision.",
                            no_args_is_help=True)
sandbox_app.add_typer(workspace_app, name="workspace")


@sandbox_app.command("exec", context_settings={"allow_interspersed_args": False})
def exec_command(
    command: list[str] = typer.Argument(..., help="The command and its arguments (after --)."),
    workspace: Path = typer.Option(Path("."), "--workspace", help="The writable directory (default: .)."),
    allow_port: list[int] = typer.Option([], "--allow-port", help="Host loopback port to reach; repeatable."),
    timeout: float = typer.Option(DEFAULT_EXEC_TIMEOUT_S, "--timeout", help="Wall-clock limit in seconds."),
    memory: int | None = typer.Option(None, "--memory", help="Memory limit in MiB ([sandbox] memory_mb)."),
    config: Path | None = typer.Option(None, "--config", help="shopfloor.toml with a [sandbox] section."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of the output."),
) -> None:
    """Run CMD in a fresh sandbox: read-only host, writable workspace, no network unless allowed."""
    from pydantic import ValidationError

    from shopfloor.config import ProjectFile
    from shopfloor.errors import UserError
    from shopfloor.sandbox.bwrap import SandboxedExecutionEnvironment
    from shopfloor.sandbox.policy import SandboxPolicy

    base = SandboxPolicy.from_config(ProjectFile.load(config))
    try:
        policy = base.with_overrides(memory_mb=memory, timeout_s=timeout,
                                     allowed_ports=sorted({*base.allowed_ports, *allow_port}) or None)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise UserError(f"{'.'.join(map(str, err['loc']))}: {err['msg']}", where="sandbox exec options",
                        fix="see `shopfloor sandbox exec --help` and [sandbox] in docs/sandbox.md") from None

    def live(stream: str, chunk: bytes) -> None:
        out = sys.stdout.buffer if stream == "out" else sys.stderr.buffer
        out.write(chunk)
        out.flush()

    env = SandboxedExecutionEnvironment(workspace, policy)
    with env:
        result = env.run(command, timeout_ms=int(timeout * 1000), sink=None if as_json else live)
    reason = env.limit_reason(result.limit, int(timeout * 1000)) if result.limit else None
    if as_json:
        typer.echo(json.dumps({"exit_code": result.exit_code, "limit": result.limit, "reason": reason,
                               "timed_out": result.timed_out, "duration_ms": result.duration_ms,
                               "stdout": result.stdout, "stderr": result.stderr,
                               "dropped_bytes": result.dropped_bytes}))
    elif reason:
        print(f"shopfloor: sandbox: {reason} (exit {result.exit_code})", file=sys.stderr)
    raise typer.Exit(result.exit_code)


@workspace_app.command("create")
def workspace_create(
    project: Path = typer.Option(Path("."), "--project", help="The git project (default: .)."),
    revision: str = typer.Option("HEAD", "--revision", help="Commit, branch or tag to start from."),
    name: str | None = typer.Option(None, "--name", help="Workspace name (default: generated)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Create a copy-on-write workspace and print its directory."""
    from dataclasses import asdict

    from shopfloor.sandbox.workspace import WorkspaceManager

    workspace = WorkspaceManager().create(project, revision, name=name)
    typer.echo(json.dumps(asdict(workspace)) if as_json else workspace.path)


@workspace_app.command("list")
def workspace_list(as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """List workspaces: name, status (active or kept), revision, directory."""
    from dataclasses import asdict

    from shopfloor.sandbox.workspace import WorkspaceManager

    workspaces = WorkspaceManager().list()
    if as_json:
        typer.echo(json.dumps({"workspaces": [asdict(w) for w in workspaces]}))
        return
    for w in workspaces:
        typer.echo(f"{w.name}  {w.status:<6}  {w.revision[:12]}  {w.strategy:<7}  {w.path}")


@workspace_app.command("keep")
def workspace_keep(name: str = typer.Argument(..., help="Workspace name.")) -> None:
    """Keep a workspace as a candidate (it stays listed until discarded)."""
    from shopfloor.sandbox.workspace import WorkspaceManager

    typer.echo(WorkspaceManager().keep(name).path)


@workspace_app.command("discard")
def workspace_discard(name: str = typer.Argument(..., help="Workspace name.")) -> None:
    """Delete a workspace and everything changed in it."""
    from shopfloor.sandbox.workspace import WorkspaceManager

    WorkspaceManager().discard(name)
    typer.echo(f"discarded {name}")


@workspace_app.command("prune")
def workspace_prune(
    min_age: float | None = typer.Option(
        None, "--min-age", show_default=False,
        help="Keep snapshots younger than this (seconds; default: one hour)."),
) -> None:
    """Delete revision snapshots that no workspace uses any more."""
    # The default lives in sandbox.workspace, imported here rather than at CLI start.
    from shopfloor.sandbox.workspace import DEFAULT_PRUNE_MIN_AGE_S, WorkspaceManager

    removed = WorkspaceManager().prune(DEFAULT_PRUNE_MIN_AGE_S if min_age is None else min_age)
    typer.echo(f"pruned {len(removed)} snapshot(s)")


def register(app: typer.Typer) -> None:
    app.add_typer(sandbox_app, name="sandbox")
