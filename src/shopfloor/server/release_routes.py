"""Approvals, deploys, rollback, history and drift over HTTP (the release CLI's twin).

    GET  /release/approvals/{run_id}                 what the run's gate is waiting on
    POST /release/approvals/{run_id}/{gate}          {"decision": "approve"|"reject", "approver", ...}
    POST /release/deploys                            Idempotency-Key header; {"digest", "target"}
    POST /release/targets/{target}/rollback          {"to": digest?}
    POST /release/targets/{target}/promote
    GET  /release/targets/{target}/releases
    GET  /release/targets/{target}/drift

Deploys follow the IETF Idempotency-Key draft: 201 for the first request, the
same body with 200 for a replay, 422 for the key reused with another payload,
409 while the first request is still in flight, 400 without the header. Other
user errors answer with their one line in {"error": ...}. The blocking release
operations run in Starlette's thread pool, never on the event loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from shopfloor.errors import UserError
from shopfloor.release import approvals
from shopfloor.release.deploy import Releaser
from shopfloor.release.ledger import Ledger
from shopfloor.server.app import ServerContext
from shopfloor.server.http import error_response, json_object

IDEMPOTENCY_HEADER = "Idempotency-Key"


async def _handle(action: Callable[[], tuple[int, dict[str, Any]]]) -> JSONResponse:
    try:
        status, body = await run_in_threadpool(action)
    except UserError as exc:
        return error_response(exc)
    return JSONResponse(body, status_code=status)


def routes(server: ServerContext) -> list[BaseRoute]:
    limit = server.settings.max_body_bytes

    def releaser() -> Releaser:
        return Releaser(server.config)

    async def pending(request: Request) -> JSONResponse:
        def act() -> tuple[int, dict[str, Any]]:
            with Ledger() as ledger:
                return 200, approvals.pending(ledger, request.path_params["run_id"])
        return await _handle(act)

    async def decide(request: Request) -> JSONResponse:
        try:
            body = await json_object(request, limit)
        except UserError as exc:
            return error_response(exc)

        def act() -> tuple[int, dict[str, Any]]:
            verdict = body.get("decision")
            if verdict not in ("approve", "reject"):
                raise UserError(f"decision must be 'approve' or 'reject', not {verdict!r}", where="decision",
                                fix='send {"decision": "approve", "approver": "NAME"}')
            with Ledger() as ledger:
                d = approvals.decide(ledger, request.path_params["run_id"], request.path_params["gate"],
                                     approve=verdict == "approve", approver=str(body.get("approver", "")),
                                     reason=str(body.get("reason", "")),
                                     ttl_s=float(body.get("ttl_s", approvals.DEFAULT_APPROVAL_TTL_S)),
                                     expect_digest=str(body.get("digest", "")))
            return 200, dict(d.__dict__)
        return await _handle(act)

    async def deploy(request: Request) -> JSONResponse:
        try:
            body = await json_object(request, limit)
        except UserError as exc:
            return error_response(exc)
        key = request.headers.get(IDEMPOTENCY_HEADER, "")
        if not key:
            return JSONResponse({"error": f"missing {IDEMPOTENCY_HEADER} header"}, status_code=400)

        def act() -> tuple[int, dict[str, Any]]:
            with Ledger() as ledger:
                known = ledger.idempotency_key(ledger.conn, key) is not None
            result = releaser().deploy(str(body.get("digest", "")), str(body.get("target", "")), key)
            return (200 if known else 201), result
        return await _handle(act)

    def target_op(op: str) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> JSONResponse:
            try:
                body = await json_object(request, limit) if request.method == "POST" else {}
            except UserError as exc:
                return error_response(exc)
            target = request.path_params["target"]

            def act() -> tuple[int, dict[str, Any]]:
                r = releaser()
                if op == "rollback":
                    return 200, r.rollback(target, body.get("to"))
                if op == "promote":
                    return 200, r.promote(target)
                if op == "releases":
                    return 200, r.history(target)
                return 200, r.drift_report(target)
            return await _handle(act)
        return endpoint

    return [
        Route("/release/approvals/{run_id}", pending, methods=["GET"]),
        Route("/release/approvals/{run_id}/{gate}", decide, methods=["POST"]),
        Route("/release/deploys", deploy, methods=["POST"]),
        Route("/release/targets/{target}/rollback", target_op("rollback"), methods=["POST"]),
        Route("/release/targets/{target}/promote", target_op("promote"), methods=["POST"]),
        Route("/release/targets/{target}/releases", target_op("releases"), methods=["GET"]),
        Route("/release/targets/{target}/drift", target_op("drift"), methods=["GET"]),
    ]
