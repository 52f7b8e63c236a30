"""What every route module needs from HTTP: bounded JSON bodies and user errors as JSON responses.

A UserError subclass names its status with an `http_status` class attribute
(404, 409, 422, …); any other user error is a 400.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from shopfloor.errors import UserError


def error_response(exc: UserError, status: int | None = None) -> JSONResponse:
    """The error as JSON with `status`, else the error's own http_status, else 400."""
    return JSONResponse({"error": exc.line(), "what": exc.what, "where": exc.where, "fix": exc.fix},
                        status_code=status or getattr(exc, "http_status", 400))


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused as soon as it is known to exceed `limit` bytes."""
    too_big = UserError(f"request body over {limit} bytes", where="body",
                        fix="send less, or raise [server] max_body_bytes")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise too_big
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_big
    return body


async def json_object(request: Request, limit: int) -> dict[str, Any]:
    """The body as a JSON object; an empty body is {}."""
    raw = await read_body(request, limit)
    try:
        data = json.loads(raw or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"body is not JSON: {exc}", where="body", fix="send a JSON object") from None
    if not isinstance(data, dict):
        raise UserError("body must be a JSON object", where="body", fix="send a JSON object")
    return data
