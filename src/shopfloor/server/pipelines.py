"""The Attractor HTTP server mode (attractor-spec 9.5 and DoD 11.11).

    POST /pipelines                        start a run: DOT as the body, or JSON {"dot", "context", "backend"}
    POST /run                              the same (DoD 11.11 naming)
    GET  /pipelines                        every run this server started
    GET  /pipelines/{id}, /status/{id}     status and progress
    GET  /pipelines/{id}/events            SSE stream, replayed from the start (or Last-Event-ID)
    POST /pipelines/{id}/cancel            request a stop; the run checkpoints and ends "stopped"
    GET  /pipelines/{id}/graph             SVG, nodes coloured by outcome so far
    GET  /pipelines/{id}/questions         pending human-gate questions
    POST /pipelines/{id}/questions/{qid}/answer   {"answer": "A"}: option key, label, or text
    POST /answer                           {"id", "answer", "question_id"?}: the only pending one if omitted
    GET  /pipelines/{id}/checkpoint        the latest checkpoint.json
    GET  /pipelines/{id}/context           the run context
    GET  /ui, /pipelines/{id}/ui           HTML pages: runs, and one run with its questions as forms

Errors are JSON {"error": one line, "fix": …} with 400 (bad input), 404, 409 or 429.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from shopfloor.errors import UserError
from shopfloor.server import pages
from shopfloor.server.app import ServerContext
from shopfloor.server.http import error_response, json_object, read_body
from shopfloor.server.run_manager import NotFound, RunManager

Endpoint = Callable[[Request], Awaitable[Response]]


class Conflict(UserError):
    http_status = 409


def _handled(endpoint: Endpoint) -> Endpoint:
    async def wrapper(request: Request) -> Response:
        try:
            return await endpoint(request)
        except UserError as exc:
            return error_response(exc)
    return wrapper


def _answer_text(data: dict[str, Any]) -> str:
    value = data.get("answer", data.get("option", data.get("text")))
    if value is None or isinstance(value, dict | list):
        raise UserError("no answer given", where="body", fix='send {"answer": "<option key, label or text>"}')
    return str(value).lower() if isinstance(value, bool) else str(value)


def routes(server: ServerContext) -> list[BaseRoute]:
    manager = RunManager(server)
    limit = server.settings.max_body_bytes
    server.resources.callback(manager.shutdown)

    @_handled
    async def start(request: Request) -> Response:
        if "json" in request.headers.get("content-type", ""):
            data = await json_object(request, limit)
            source, context, backend = data.get("dot"), data.get("context") or {}, data.get("backend")
            if not isinstance(source, str) or not isinstance(context, dict):
                raise UserError('expected {"dot": "<DOT source>", "context": {...}}', where="body",
                                fix="send the pipeline source as the dot field, or as a text/plain body")
        else:
            try:
                source, context, backend = (await read_body(request, limit)).decode("utf-8"), {}, None
            except UnicodeDecodeError:
                raise UserError("body is not UTF-8 text", where="body",
                                fix="send the DOT source as UTF-8") from None
        if "{" not in source:
            raise UserError("body is not a DOT pipeline", where="body", fix="send digraph Name { ... }")
        run, warnings = await asyncio.to_thread(manager.start, source, context=context, backend=backend)
        return JSONResponse({"id": run.id, "status": run.status, "logs_root": str(run.logs_root),
                             "warnings": warnings}, status_code=201)

    @_handled
    async def list_runs(request: Request) -> Response:
        return JSONResponse({"pipelines": [{"id": r.id, "name": r.graph.name, "status": r.status,
                                            "started_at": r.started_at} for r in manager.list()]})

    @_handled
    async def status(request: Request) -> Response:
        run = manager.get(request.path_params["id"])
        return JSONResponse(await asyncio.to_thread(run.snapshot))

    @_handled
    async def events(request: Request) -> Response:
        run = manager.get(request.path_params["id"])
        after = request.headers.get("last-event-id") or request.query_params.get("after") or "0"
        if not after.isdigit():
            raise UserError(f"bad event id {after!r}", where="Last-Event-ID",
                            fix="pass the id of the last event")
        frames = run.feed.stream(int(after), server.settings.sse_heartbeat_s)
        return StreamingResponse(frames, media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @_handled
    async def cancel(request: Request) -> Response:
        run = manager.cancel(request.path_params["id"])
        if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return RedirectResponse(f"/pipelines/{run.id}/ui", status_code=303)
        return JSONResponse({"id": run.id, "status": run.status}, status_code=202)

    @_handled
    async def ui_index(request: Request) -> Response:
        runs = [{"id": r.id, "name": r.graph.name, "status": r.status} for r in manager.list()]
        return HTMLResponse(pages.run_list_page(runs))

    @_handled
    async def ui_run(request: Request) -> Response:
        run = manager.get(request.path_params["id"])
        return HTMLResponse(pages.run_page(await asyncio.to_thread(run.snapshot)))

    @_handled
    async def graph(request: Request) -> Response:
        from shopfloor.pipeline.render import read_outcomes, render_bytes

        run = manager.get(request.path_params["id"])
        ckpt = run.checkpoint()
        outcomes = read_outcomes(run.graph, run.logs_root) | (ckpt.node_outcomes if ckpt else {})
        svg = await asyncio.to_thread(render_bytes, run.graph, "svg", outcomes=outcomes)
        return Response(svg, media_type="image/svg+xml")

    @_handled
    async def questions(request: Request) -> Response:
        run = manager.get(request.path_params["id"])
        return JSONResponse({"id": run.id, "questions": [q.to_dict() for q in run.interviewer.pending()]})

    def _answer(run_id: str, question_id: str | None, text: str) -> JSONResponse:
        run = manager.get(run_id)
        if question_id is None:
            pending = run.interviewer.pending()
            if len(pending) != 1:
                raise Conflict(f"{len(pending)} questions are pending", where="answer",
                               fix="name one with question_id (GET /pipelines/{id}/questions)")
            question_id = pending[0].id
        answer = run.interviewer.answer(question_id, text)
        return JSONResponse({"id": run.id, "question_id": question_id, "answer": answer.describe()})

    @_handled
    async def answer_question(request: Request) -> Response:
        run_id, qid = request.path_params["id"], request.path_params["qid"]
        if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            form = parse_qs((await read_body(request, limit)).decode("utf-8", errors="replace"))
            _answer(run_id, qid, _answer_text({k: v[0] for k, v in form.items()}))
            return RedirectResponse(f"/pipelines/{run_id}/ui", status_code=303)  # back to the page
        data = await json_object(request, limit)
        return _answer(run_id, qid, _answer_text(data))

    @_handled
    async def answer(request: Request) -> Response:
        data = await json_object(request, limit)
        run_id = data.get("id") or data.get("pipeline_id")
        if not isinstance(run_id, str):
            raise UserError("no pipeline id", where="body", fix='send {"id": "<pipeline id>", "answer": "A"}')
        qid = data.get("question_id")
        return _answer(run_id, str(qid) if qid is not None else None, _answer_text(data))

    @_handled
    async def checkpoint(request: Request) -> Response:
        run = manager.get(request.path_params["id"])
        ckpt = run.checkpoint()
        if ckpt is None:
            raise NotFound("no checkpoint yet", where=f"pipelines/{run.id}",
                           fix="it is written when the first node finishes")
        return JSONResponse(asdict(ckpt))

    @_handled
    async def context(request: Request) -> Response:
        run = manager.get(request.path_params["id"])
        ckpt = run.checkpoint()
        values = run.result.context if run.result else ckpt.context if ckpt else {}
        return JSONResponse({"id": run.id, "context": values})

    return [
        Route("/pipelines", start, methods=["POST"]),
        Route("/run", start, methods=["POST"]),
        Route("/pipelines", list_runs, methods=["GET"]),
        Route("/pipelines/{id}", status, methods=["GET"]),
        Route("/status/{id}", status, methods=["GET"]),
        Route("/pipelines/{id}/events", events, methods=["GET"]),
        Route("/events/{id}", events, methods=["GET"]),
        Route("/pipelines/{id}/cancel", cancel, methods=["POST"]),
        Route("/pipelines/{id}/graph", graph, methods=["GET"]),
        Route("/pipelines/{id}/questions", questions, methods=["GET"]),
        Route("/pipelines/{id}/questions/{qid}/answer", answer_question, methods=["POST"]),
        Route("/answer", answer, methods=["POST"]),
        Route("/pipelines/{id}/checkpoint", checkpoint, methods=["GET"]),
        Route("/pipelines/{id}/context", context, methods=["GET"]),
        Route("/ui", ui_index, methods=["GET"]),
        Route("/pipelines/{id}/ui", ui_run, methods=["GET"]),
    ]
