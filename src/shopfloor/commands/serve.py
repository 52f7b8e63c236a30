"""`shopfloor serve`: the HTTP server mode (API + SSE) on loopback by default.

    shopfloor serve [--host 127.0.0.1] [--port 8787] [--runs-dir runs] [--backend simulate]
                    [--max-runs 8] [--config shopfloor.toml]

`--port 0` binds a free port; the first line on stdout says which:
`shopfloor: serving on http://HOST:PORT`.
"""

from __future__ import annotations

import signal
import socket
import sys
from pathlib import Path

import typer

from shopfloor.errors import UserError

#: Where the server listens unless --host/--port say otherwise (loopback: runs execute agent code).
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8787
#: Pending connections the listening socket queues.
DEFAULT_BACKLOG = 128
#: Seconds open connections (SSE streams) get to finish when the server shuts down.
DEFAULT_GRACEFUL_SHUTDOWN_S = 5


def serve_command(
    host: str = typer.Option(DEFAULT_HOST, "--host", help="Address to bind (loopback by default)."),
    port: int = typer.Option(DEFAULT_PORT, "--port", help="Port to bind; 0 picks a free one."),
    runs_dir: Path = typer.Option(Path("runs"), "--runs-dir", help="Where run directories are created."),
    backend: str = typer.Option("simulate", "--backend", help="Default codergen backend for runs."),
    max_runs: int | None = typer.Option(None, "--max-runs",
                                        help="Runs executing at once (default: [server] max_runs, or 8)."),
    config: Path | None = typer.Option(None, "--config", help="shopfloor.toml (default ./shopfloor.toml)."),
) -> None:
    """Serve the pipeline API: POST /run, GET /status/{id}, POST /answer, SSE events, and /pipelines/..."""
    import uvicorn

    from shopfloor import assembly
    from shopfloor.config import ProjectFile
    from shopfloor.server.app import ServerContext, create_app
    from shopfloor.server.settings import ServerSettings

    assembly.require_backend(backend)
    if max_runs is not None and max_runs < 1:
        raise UserError("--max-runs must be at least 1", where="--max-runs", fix="pass --max-runs 1 or more")
    project = ProjectFile.load(config)
    settings = project.section("server", ServerSettings)
    if max_runs is not None:
        settings.max_runs = max_runs
    server = ServerContext(runs_dir=runs_dir, config=project, backend=backend, settings=settings)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise UserError(f"cannot bind {host}:{port}: {exc.strerror}", where="--host/--port",
                        fix="pick another --port (0 picks a free one)") from None
    sock.listen(DEFAULT_BACKLOG)  # listening before the address is printed: no refused first request
    bound_port = sock.getsockname()[1]
    print(f"shopfloor: serving on http://{host}:{bound_port}", flush=True)
    app = create_app(server)
    uv = uvicorn.Server(uvicorn.Config(app, log_level="warning",
                                       timeout_graceful_shutdown=DEFAULT_GRACEFUL_SHUTDOWN_S))
    # uvicorn shuts down gracefully on SIGTERM, then re-raises it; a no-op handler turns that
    # re-raise into a clean exit 0 (runs were stopped and checkpointed by then).
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    try:
        uv.run(sockets=[sock])
    finally:
        sock.close()
    sys.stdout.flush()


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_command)
