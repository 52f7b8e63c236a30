"""The HTTP server: one Starlette app assembled from route modules.

Every module in ROUTE_MODULES exposes `routes(server: ServerContext) -> list[BaseRoute]`.
Long-lived things a module starts (run threads, twins) go on `server.resources`,
an ExitStack closed when the server shuts down, so a Ctrl-C never leaves
threads or processes behind.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from shopfloor.config import ProjectFile
from shopfloor.server.settings import ServerSettings

ROUTE_MODULES: list[str] = [
    "shopfloor.server.pipelines",  # /run, /status, /answer, /pipelines/... (attractor-spec 9.5)
    "shopfloor.server.release_routes",  # /release/approvals, /release/deploys, /release/targets/...
    "shopfloor.server.stop_routes",  # POST /stop/{run_id}, POST /stop (emergency stop)
]


@dataclass
class ServerContext:
    """What route modules share: where runs go, the project config, and cleanup at shutdown."""

    runs_dir: Path
    config: ProjectFile = field(default_factory=lambda: ProjectFile(None, {}))
    backend: str = "simulate"
    settings: ServerSettings = field(default_factory=ServerSettings)
    resources: ExitStack = field(default_factory=ExitStack)


async def _health(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True, "modules": ROUTE_MODULES})


def create_app(server: ServerContext) -> Starlette:
    routes: list[BaseRoute] = [Route("/health", _health)]
    for name in ROUTE_MODULES:
        routes.extend(importlib.import_module(name).routes(server))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        with server.resources:
            yield

    return Starlette(routes=routes, lifespan=lifespan)
