"""`shopfloor twins`: run digital twins of third-party services in the foreground.

    shopfloor twins up [slack jira okta aws] [--seed FILE] [--chaos FILE] [--port NAME=PORT] [--json]
    shopfloor twins list [--json]

`up` prints each twin's base URL, the credentials it accepts and the
environment variables that point services and SDKs at it, then serves until
Ctrl-C or SIGTERM, and stops every twin it started before exiting 0.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

twins_app = typer.Typer(help="Digital twins of Slack, Jira, Okta and AWS, with chaos.", no_args_is_help=True)


@twins_app.command("up")
def up_command(
    names: list[str] = typer.Argument(
        None, help="Twins to start (default: all): slack jira okta aws, or module:TwinClass."
    ),
    seed: Path | None = typer.Option(None, "--seed", help="YAML/JSON fixtures, one section per twin."),
    chaos: Path | None = typer.Option(None, "--chaos", help="YAML/JSON chaos profile."),
    id_seed: int = typer.Option(0, "--id-seed", help="Seed of the twins' deterministic ids."),
    port: list[str] = typer.Option(
        [], "--port", help="NAME=PORT: a fixed loopback port for a twin (default: a free one). Repeatable."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object, then keep serving."),
) -> None:
    """Start twins on loopback ports and keep them up until Ctrl-C or SIGTERM."""
    import os
    import shlex
    import signal
    import threading

    from shopfloor.errors import UserError
    from shopfloor.twins.runner import BUILTIN_TWINS, run_twins

    ports: dict[str, int] = {}
    for spec in port:
        name, _, number = spec.partition("=")
        if not number.isdigit() or not 0 < int(number) < 65536:
            raise UserError(
                f"bad port {spec!r}", where="--port", fix="write NAME=PORT, e.g. --port slack=9100"
            )
        ports[name] = int(number)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with run_twins(
            names or list(BUILTIN_TWINS), seed=seed, chaos=chaos, id_seed=id_seed, ports=ports
        ) as fleet:
            described = fleet.describe()
            if as_json:
                typer.echo(json.dumps({"pid": os.getpid(), "twins": described, "env": fleet.environment()}))
            else:
                for name, info in described.items():
                    typer.echo(f"{name:<6} {info['base_url']}")
                    typer.echo(f"       control {info['control_url']}")
                    typer.echo(f"       credentials {json.dumps(info['credentials'])}")
                typer.echo("environment for services and SDKs:")
                for key, value in fleet.environment().items():
                    typer.echo(f"  export {key}={shlex.quote(value)}")
                typer.echo("twins are up; Ctrl-C or SIGTERM stops them")
            while not stop.wait(0.5):
                pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if not as_json:
        typer.echo("twins stopped")


@twins_app.command("list")
def list_command(as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """The built-in twins."""
    from shopfloor.twins.runner import BUILTIN_TWINS, twin_class

    found = {name: twin_class(name).description for name in BUILTIN_TWINS}
    if as_json:
        typer.echo(json.dumps({"twins": found}))
        return
    for name, description in found.items():
        typer.echo(f"{name:<6} {description}")


def register(app: typer.Typer) -> None:
    app.add_typer(twins_app, name="twins")
