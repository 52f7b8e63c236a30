"""A guard in front of each twin, for the candidate: the vendor API passes, the control API does not.

Twins serve an unauthenticated control API under `/_twin` (reset, seed, journal,
state) next to the vendor API. A candidate that could reach it could erase the
evidence it is judged on (`DELETE /_twin/journal`) or plant it (`POST
/_twin/seed`). So the candidate's sandbox is not given the twins' ports, but a
guard's: a loopback relay that reads each connection's request head, refuses
`/_twin` paths with 403, and otherwise forwards the request with `Connection:
close`, so every request arrives on a connection of its own and is inspected.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from urllib.parse import unquote_to_bytes

from shopfloor.sandbox.forward import splice

#: Largest request head the guard reads before refusing the connection.
DEFAULT_GUARD_MAX_HEAD_BYTES = 64 * 1024
#: Seconds a client may take to send its request head.
DEFAULT_GUARD_HEAD_TIMEOUT_S = 10.0
CONTROL_PREFIX = b"/_twin"
_CHUNK = 1 << 16


def _refuse(client: socket.socket, status: str, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    with contextlib.suppress(OSError):
        client.sendall(head + body)


def close_connection(head: bytes) -> bytes:
    """The request head with any Connection header replaced by `Connection: close`."""
    lines = head.split(b"\r\n")
    kept = [line for line in lines[1:] if line and not line.lower().startswith(b"connection:")]
    return b"\r\n".join([lines[0], *kept, b"Connection: close"]) + b"\r\n\r\n"


class TwinGuard:
    """Listens on `port` (loopback) and relays vetted requests to the twin at `target_port`."""

    def __init__(self, target_port: int, max_head_bytes: int = DEFAULT_GUARD_MAX_HEAD_BYTES) -> None:
        self.target_port = target_port
        self.max_head_bytes = max_head_bytes
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(128)
        self.port: int = self._listener.getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> TwinGuard:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _read_head(self, client: socket.socket) -> tuple[bytes, bytes] | None:
        data = b""
        client.settimeout(DEFAULT_GUARD_HEAD_TIMEOUT_S)
        while b"\r\n\r\n" not in data:
            if len(data) > self.max_head_bytes:
                return None
            chunk = client.recv(_CHUNK)
            if not chunk:
                return None
            data += chunk
        client.settimeout(None)
        head, _, rest = data.partition(b"\r\n\r\n")
        return head, rest

    def _serve(self, client: socket.socket) -> None:
        try:
            read = self._read_head(client)
            if read is None:
                _refuse(client, "400 Bad Request", "no complete request head")
                return
            head, rest = read
            parts = head.split(b"\r\n", 1)[0].split(b" ")
            # Decoded as the twin's server decodes it, so /%5Ftwin/... is caught too.
            path = unquote_to_bytes(parts[1].split(b"?", 1)[0]) if len(parts) == 3 else b""
            if not path.startswith(b"/") or path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + b"/"):
                _refuse(client, "403 Forbidden", "the twin control API is not reachable from the candidate")
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
        except OSError:
            client.close()
            return
        try:
            upstream.sendall(close_connection(head) + rest)
        except OSError:
            upstream.close()
            client.close()
            return
        splice(client, upstream)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
