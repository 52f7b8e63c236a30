"""Inbound tunnel: reach a service listening inside a sandbox from the host.

A sandbox's network namespace has only `lo`; the sandbox bridges *outgoing*
connections to allowed host ports, and nothing comes in. The candidate under
test must nevertheless be reachable by the runner and by the twins (a Jira
webhook). `InboundTunnel` listens on a host port (the candidate's public URL)
and on a rendezvous port that the sandbox may dial out to; the inside half
(`tunnel_inside.py`, run in the sandbox) keeps idle connections parked at the
rendezvous, and each client accepted on the public port is spliced onto one.
"""

from __future__ import annotations

import contextlib
import queue
import socket
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from shopfloor.sandbox.forward import splice

#: Idle connections the inside half keeps parked at the host (the burst it absorbs without waiting).
DEFAULT_TUNNEL_POOL = 8
#: Seconds a client waits for a parked connection before it is dropped (the sandbox is gone or stuck).
DEFAULT_TUNNEL_WAIT_S = 5.0

INSIDE_SCRIPT = Path(__file__).with_name("tunnel_inside.py")


def _listen() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


class InboundTunnel:
    """Host half: `port` is what clients use; `rendezvous_port` must be allowed in the sandbox."""

    def __init__(self, wait_s: float = DEFAULT_TUNNEL_WAIT_S, pool: int = DEFAULT_TUNNEL_POOL) -> None:
        self.wait_s = wait_s
        self.pool = pool
        self._public = _listen()
        self._rendezvous = _listen()
        self.port: int = self._public.getsockname()[1]
        self.rendezvous_port: int = self._rendezvous.getsockname()[1]
        self._parked: queue.Queue[socket.socket] = queue.Queue()
        self._closed = threading.Event()

    def inside_command(self, service_port: int) -> list[str]:
        """The argv that runs the inside half in the sandbox, relaying to `service_port` there."""
        return [
            sys.executable,
            "-E",
            "-s",
            str(INSIDE_SCRIPT),
            str(self.rendezvous_port),
            str(service_port),
            str(self.pool),
        ]

    def start(self) -> InboundTunnel:
        threading.Thread(target=self._accept, args=(self._rendezvous, self._parked.put), daemon=True).start()
        threading.Thread(target=self._accept, args=(self._public, self._splice_later), daemon=True).start()
        return self

    def _accept(self, listener: socket.socket, handle: Callable[[socket.socket], None]) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            handle(conn)

    def _splice_later(self, client: socket.socket) -> None:
        threading.Thread(target=self._splice, args=(client,), daemon=True).start()

    def _splice(self, client: socket.socket) -> None:
        try:
            inside = self._parked.get(timeout=self.wait_s)
        except queue.Empty:
            client.close()
            return
        splice(client, inside)

    def close(self) -> None:
        self._closed.set()
        for listener in (self._public, self._rendezvous):
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        while True:
            try:
                self._parked.get_nowait().close()
            except queue.Empty:
                return
