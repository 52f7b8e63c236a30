"""The emergency stop over HTTP (the `shopfloor stop` command's twin).

    POST /stop/{run_id}     stop one run; 200 {"results": [...]} once it is stopped, 404 if unknown
    POST /stop              stop every live run (and kill leftover sandboxes)

Works for runs this server hosts and for CLI runs on the same state directory.
The wait runs in Starlette's thread pool, never on the event loop.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from shopfloor.errors import UserError
from shopfloor.govern.stop import stop_runs
from shopfloor.server.app import ServerContext
from shopfloor.server.http import error_response


def routes(server: ServerContext) -> list[BaseRoute]:
    async def stop_one(request: Request) -> JSONResponse:
        try:
            results = await run_in_threadpool(stop_runs, [request.path_params["run_id"]])
        except UserError as exc:
            return error_response(exc, status=404)  # the only user error here: no such run
        return JSONResponse({"results": [r.to_dict() for r in results]})

    async def stop_all(request: Request) -> JSONResponse:
        results = await run_in_threadpool(stop_runs, None)
        return JSONResponse({"results": [r.to_dict() for r in results]})

    return [Route("/stop/{run_id}", stop_one, methods=["POST"]), Route("/stop", stop_all, methods=["POST"])]
