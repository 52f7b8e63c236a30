"""Just enough HTTP/1.1 over asyncio streams for the proxy and the daemon's control API.

Why not uvicorn: its response goes out in two writes (head, then body), and on
loopback kernels with delayed ACKs that costs ~40 ms per request — more than the
services behind the proxy take. Here every response is one write. Request
bodies need a Content-Length (chunked request bodies get 411); keep-alive is
honoured both ways.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

#: Largest request head (request line + headers) accepted.
DEFAULT_MAX_HEAD_BYTES = 64 * 1024
#: Largest request or upstream response body accepted.
DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024

REASONS = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 404: "Not Found",
           409: "Conflict", 411: "Length Required", 413: "Payload Too Large", 422: "Unprocessable Content",
           500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


class BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Request:
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)

    @property
    def keep_alive(self) -> bool:
        conn = (self.header("connection") or "").lower()
        return conn != "close" if self.version == "HTTP/1.1" else conn == "keep-alive"

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def query(self) -> dict[str, str]:
        _, _, q = self.target.partition("?")
        return dict(p.split("=", 1) for p in q.split("&") if "=" in p)


def parse_headers(lines: list[bytes]) -> list[tuple[str, str]]:
    out = []
    for line in lines:
        name, sep, value = line.decode("latin-1").partition(":")
        if not sep:
            raise BadRequest(400, f"malformed header line {line[:40]!r}")
        out.append((name.strip(), value.strip()))
    return out


async def read_request(reader: asyncio.StreamReader) -> Request | None:
    """The next request on a connection; None when the client closed it."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    except asyncio.LimitOverrunError:
        raise BadRequest(413, "request head too large") from None
    lines = head[:-4].split(b"\r\n")
    parts = lines[0].decode("latin-1").split(" ")
    if len(parts) != 3:
        raise BadRequest(400, "malformed request line")
    req = Request(parts[0], parts[1], parts[2], parse_headers(lines[1:]))
    if (req.header("transfer-encoding") or "").lower() not in ("", "identity"):
        raise BadRequest(411, "chunked request bodies are not supported; send Content-Length")
    length = int(req.header("content-length") or 0)
    if length > DEFAULT_MAX_BODY_BYTES:
        raise BadRequest(413, "request body too large")
    if length:
        req.body = await reader.readexactly(length)
    return req


def render_response(status: int, headers: list[tuple[str, str]], body: bytes, *, keep_alive: bool) -> bytes:
    head = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}"]
    head += [f"{k}: {v}" for k, v in headers if k.lower() not in ("content-length", "connection")]
    head.append(f"content-length: {len(body)}")
    head.append("connection: keep-alive" if keep_alive else "connection: close")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


@dataclass
class UpstreamResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def _dechunk(data: bytes) -> bytes:
    out = bytearray()
    while True:
        size_line, _, rest = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            return bytes(out)
        out += rest[:size]
        data = rest[size + 2:]


async def forward(host: str, port: int, req: Request, drop_headers: frozenset[str],
                  timeout_s: float) -> UpstreamResponse:
    """Send `req` upstream on a fresh connection (Connection: close) and read the whole answer."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
    try:
        lines = [f"{req.method} {req.target} HTTP/1.1", f"host: {host}:{port}"]
        lines += [f"{k}: {v}" for k, v in req.headers if k.lower() not in drop_headers]
        if req.body:
            lines.append(f"content-length: {len(req.body)}")
        lines.append("connection: close")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + req.body)
        raw = bytearray()
        limit = DEFAULT_MAX_BODY_BYTES + DEFAULT_MAX_HEAD_BYTES
        while chunk := await asyncio.wait_for(reader.read(1 << 16), timeout_s):  # until upstream closes
            raw += chunk
            if len(raw) > limit:
                raise ValueError(f"upstream response larger than {limit} bytes")
    finally:
        writer.close()
    head, sep, body = bytes(raw).partition(b"\r\n\r\n")
    if not sep:
        raise ConnectionError("upstream closed before sending a response head")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ")[1])
    headers = parse_headers(lines[1:])
    if any(k.lower() == "transfer-encoding" and "chunked" in v.lower() for k, v in headers):
        body = _dechunk(body)
        headers = [(k, v) for k, v in headers if k.lower() != "transfer-encoding"]
    return UpstreamResponse(status, headers, body)
