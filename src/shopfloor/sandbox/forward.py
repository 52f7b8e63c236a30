"""Bridging allowed loopback ports into a sandbox that has no network of its own.

The sandbox runs in a fresh network namespace that holds only `lo`, so nothing
inside can reach the host or the internet. For each port the policy allows,
two halves cooperate through a Unix socket in a directory bind-mounted into
the sandbox:

- `HostBridge` (host side) listens on `<dir>/<port>.sock` and connects each
  accepted stream to 127.0.0.1:<port> on the host;
- `serve_inside` (run by the sandbox supervisor) listens on 127.0.0.1:<port>
  in the sandbox's namespace and relays each connection to the socket.

Only the named ports exist inside; every other address is unreachable because
the namespace has no route to it. This file imports only the standard library
because its inside half runs inside the sandbox, outside the shopfloor package.
`splice` is the one byte relay shopfloor has: the validate layer's tunnel and
twin guard use it too.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path

_CHUNK = 1 << 16


def _pump(src: socket.socket, dst: socket.socket) -> None:
    """Copy one direction until EOF, then half-close the other side."""
    try:
        while data := src.recv(_CHUNK):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)


def splice(client: socket.socket, upstream: socket.socket) -> None:
    """Relay both directions until each has ended, then close both sockets.

    Each direction half-closes its destination at EOF, so a peer that finishes
    sending still receives the other side's reply to the end.
    """
    back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
    back.start()
    _pump(client, upstream)
    back.join()
    client.close()
    upstream.close()


def _relay(client: socket.socket, connect: Callable[[], socket.socket]) -> None:
    try:
        upstream = connect()
    except OSError:
        client.close()
        return
    splice(client, upstream)


def _serve(listener: socket.socket, connect: Callable[[], socket.socket]) -> None:
    while True:
        try:
            client, _ = listener.accept()
        except OSError:  # listener closed: stop
            return
        threading.Thread(target=_relay, args=(client, connect), daemon=True).start()


def socket_path(directory: Path | str, port: int) -> str:
    return os.path.join(directory, f"{port}.sock")


class HostBridge:
    """Host half: Unix sockets in `directory`, one per allowed port, relayed to 127.0.0.1."""

    def __init__(self, directory: Path, ports: list[int]) -> None:
        self.directory = directory
        self.ports = ports
        self._listeners: list[socket.socket] = []

    def start(self) -> None:
        for port in self.ports:
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(socket_path(self.directory, port))
            listener.listen(64)
            self._listeners.append(listener)
            target = ("127.0.0.1", port)
            threading.Thread(target=_serve, args=(listener, lambda t=target: socket.create_connection(t)),
                             daemon=True).start()

    def close(self) -> None:
        for listener in self._listeners:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        self._listeners.clear()


def _unix_connector(path: str) -> Callable[[], socket.socket]:
    def connect() -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(path)
        return sock
    return connect


def serve_inside(directory: str, ports: list[int]) -> None:
    """Inside half: listen on 127.0.0.1:<port> in the sandbox and relay to the host's Unix sockets."""
    for port in ports:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(64)
        threading.Thread(target=_serve, args=(listener, _unix_connector(socket_path(directory, port))),
                         daemon=True).start()
