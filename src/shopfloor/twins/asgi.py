"""The ASGI side of a twin: routing, the control API, the journal and chaos.

`TwinApp` reads each request whole, answers `/_twin/...` control calls itself,
and for vendor calls: journals the request, asks the ChaosEngine what to do,
then either injects the fault or dispatches to the twin's route and sends the
response (possibly cut short or throttled). Connection resets are real TCP
RSTs: the app reaches the connection's transport through uvicorn's receive
callable (the only handle ASGI gives) and aborts it with SO_LINGER 0.
"""

from __future__ import annotations

import asyncio
import re
import socket
import struct
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.datastructures import Headers, QueryParams
from starlette.responses import Response
from starlette.routing import compile_path

from shopfloor.twins.chaos import ChaosEngine, Decision, TwinChaos
from shopfloor.twins.framework import CONTROL_PREFIX, RouteSpec, Twin, TwinReply, TwinRequest, json_response

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

#: Bytes per write when chaos throttles bandwidth.
BANDWIDTH_CHUNK_BYTES = 256


def abort_connection(receive: Receive, *, reset: bool = True) -> None:
    """Drop the client's TCP connection: a reset (RST) as a crashing edge sends, or a plain close (FIN)."""
    transport = getattr(getattr(receive, "__self__", None), "transport", None)
    if transport is None:
        raise RuntimeError("dropping connections needs uvicorn's receive callable (serve twins with uvicorn)")
    if not reset:
        transport.close()
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


class TwinApp:
    def __init__(self, twin: Twin, chaos: ChaosEngine | None = None) -> None:
        self.twin = twin
        self.chaos = chaos or ChaosEngine(twin.name, None)
        #: set by TwinServer: take the twin off the network for N seconds.
        self.on_outage: Callable[[float], None] | None = None
        self._routes: list[tuple[RouteSpec, re.Pattern[str], dict[str, Any], Callable[..., Any]]] = []
        for spec, attr in twin.routes():
            regex, _fmt, convertors = compile_path(spec.path)
            self._routes.append((spec, regex, convertors, getattr(twin, attr)))

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":  # nothing to set up; answer so any ASGI server can host a twin
            while (await receive())["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        body = bytearray()
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        request = self._request(scope, bytes(body))
        if request.path.startswith(CONTROL_PREFIX + "/"):
            await self._send(send, receive, self._control(request), Decision())
            return
        await self._vendor(scope, receive, send, request)

    def _request(self, scope: dict[str, Any], body: bytes) -> TwinRequest:
        headers = Headers(scope=scope)
        host = headers.get("host") or "{}:{}".format(*scope.get("server") or ("127.0.0.1", 80))
        return TwinRequest(
            scope["method"],
            scope["path"],
            {},
            QueryParams(scope.get("query_string", b"")),
            headers,
            body,
            f"{scope.get('scheme', 'http')}://{host}",
        )

    async def _vendor(
        self, scope: dict[str, Any], receive: Receive, send: Send, request: TwinRequest
    ) -> None:
        twin = self.twin
        started = time.perf_counter()
        entry = twin.journal.record(
            time=twin.clock.now(),
            method=request.method,
            path=request.path,
            query=str(request.query),
            headers=dict(request.headers),
            body=request.body,
        )
        decision = self.chaos.decide(request.method, request.path)
        entry.fault = decision.fault
        if decision.fault == "outage":
            if self.on_outage is not None:
                threading.Thread(target=self.on_outage, args=(decision.outage_s,), daemon=True).start()
            await self._drop(receive)
            return
        if decision.delay_s:
            await asyncio.sleep(decision.delay_s)
        if decision.fault == "rate_limit":
            response = twin.rate_limited_response(decision.retry_after_s)
        elif decision.fault == "error":
            response = twin.error_response(decision.status, "injected by chaos")
        elif decision.fault == "hang":
            await asyncio.sleep(decision.hang_s)
            await self._drop(receive)
            return
        elif decision.fault == "reset":
            await self._drop(receive)
            return
        else:
            response = await self.dispatch(scope, request)
        # Journal before sending: once the client has its answer, assertions may read the entry.
        twin.journal.finish(
            entry,
            status=response.status_code,
            body=bytes(response.body),
            duration_ms=(time.perf_counter() - started) * 1000,
        )
        await self._send(send, receive, response, decision)

    async def _drop(self, receive: Receive, *, reset: bool = True) -> None:
        abort_connection(receive, reset=reset)
        # Let the protocol notice the disconnect so uvicorn does not try to answer it with a 500.
        await asyncio.sleep(0.01)

    async def dispatch(self, scope: dict[str, Any], request: TwinRequest) -> Response:
        """The twin's own answer: its route, else its vendor-shaped 404."""
        twin = self.twin
        path_matched = False
        for spec, regex, convertors, handler in self._routes:
            match = regex.match(request.path)
            if not match:
                continue
            path_matched = True
            if spec.method != request.method:
                continue
            request.path_params = {k: convertors[k].convert(v) for k, v in match.groupdict().items()}
            try:
                with twin.lock:
                    if spec.auth:
                        refused = twin.authenticate(request)
                        if refused is not None:
                            return refused
                    result = handler(request)
            except TwinReply as reply:
                return reply.response
            except Exception as exc:  # a twin bug must look like a vendor 500, not kill the connection
                return twin.error_response(500, f"twin error: {type(exc).__name__}: {exc}")
            if isinstance(result, Response):
                return result
            if result is None:
                return Response(status_code=204)
            return json_response(result)
        if path_matched:
            return twin.error_response(405, f"method {request.method} not allowed on {request.path}")
        return twin.not_found_response(request)

    async def _send(self, send: Send, receive: Receive, response: Response, decision: Decision) -> None:
        body = bytes(response.body)
        headers = [(k, v) for k, v in response.raw_headers if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
        if decision.fault != "limited_data":
            await send({"type": "http.response.body", "body": body})
            return
        cut = body if decision.max_bytes is None else body[: decision.max_bytes]
        if decision.bytes_per_s:
            for i in range(0, len(cut), BANDWIDTH_CHUNK_BYTES):
                chunk = cut[i : i + BANDWIDTH_CHUNK_BYTES]
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await asyncio.sleep(len(chunk) / decision.bytes_per_s)
        else:
            await send({"type": "http.response.body", "body": cut, "more_body": True})
        if len(cut) < len(body):
            await self._drop(receive, reset=False)  # the promised Content-Length never arrives
        else:
            await send({"type": "http.response.body", "body": b""})

    # --- control API ------------------------------------------------------------------------
    def _control(self, request: TwinRequest) -> Response:
        twin = self.twin
        op = request.path[len(CONTROL_PREFIX) + 1 :].strip("/")
        try:
            payload = request.json() or {}
        except ValueError:
            return json_response({"error": "request body is not JSON"}, 400)
        key = (request.method, op)
        try:
            if key == ("GET", "health"):
                return json_response({"twin": twin.name, "ok": True})
            if key == ("GET", "credentials"):
                return json_response(
                    {
                        "twin": twin.name,
                        "url": twin.url,
                        "base_url": twin.base_url(),
                        "credentials": twin.credentials(),
                    }
                )
            if key == ("POST", "reset"):
                twin.reset()
                self.chaos.reset()
                return json_response({"ok": True})
            if key == ("POST", "seed"):
                twin.seed(payload)
                return json_response({"ok": True})
            if key == ("GET", "state"):
                return json_response(twin.snapshot()["state"])
            if key == ("POST", "snapshot"):
                return json_response(twin.snapshot())
            if key == ("POST", "restore"):
                twin.restore(payload)
                return json_response({"ok": True})
            if key == ("GET", "journal"):
                entries = twin.journal.entries(
                    method=request.query.get("method"), path=request.query.get("path")
                )
                return json_response({"entries": [e.to_dict() for e in entries]})
            if key == ("DELETE", "journal"):
                twin.journal.clear()
                return json_response({"ok": True})
            if key == ("GET", "clock"):
                return json_response(twin.clock.dump())
            if key == ("POST", "clock"):
                if "advance" in payload:
                    twin.clock.advance(float(payload["advance"]))
                if "set" in payload:
                    twin.clock.set(float(payload["set"]), ticking=payload.get("ticking"))
                return json_response(twin.clock.dump())
            if key == ("POST", "chaos"):
                self.chaos = ChaosEngine(
                    twin.name,
                    TwinChaos.model_validate(payload.get("faults", {})),
                    int(payload.get("seed", self.chaos.seed)),
                )
                return json_response({"ok": True})
            if key == ("POST", "outage"):
                if self.on_outage is None:
                    return json_response({"error": "this twin is not served by a TwinServer"}, 409)
                threading.Thread(
                    target=self.on_outage, args=(float(payload.get("seconds", 1.0)),), daemon=True
                ).start()
                return json_response({"ok": True})
        except (ValueError, KeyError, TypeError, NotImplementedError) as exc:
            return json_response({"error": f"{type(exc).__name__}: {exc}"}, 400)
        return json_response(
            {
                "error": f"unknown control call {request.method} {request.path}",
                "known": [
                    "GET health",
                    "GET credentials",
                    "POST reset",
                    "POST seed",
                    "GET state",
                    "POST snapshot",
                    "POST restore",
                    "GET journal",
                    "DELETE journal",
                    "GET clock",
                    "POST clock",
                    "POST chaos",
                    "POST outage",
                ],
            },
            404,
        )
