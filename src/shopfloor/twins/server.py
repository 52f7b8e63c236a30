"""Serving a twin: uvicorn in a background thread on a loopback port.

`TwinServer` binds 127.0.0.1 port 0 (the kernel picks a free port), serves the
twin's ASGI app from a daemon thread and can take the twin off the network and
bring it back on the *same* port (chaos outages): while it is down, clients get
"connection refused", exactly as when a vendor's edge disappears.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import uvicorn

from shopfloor.twins.asgi import TwinApp
from shopfloor.twins.chaos import ChaosEngine, TwinChaos
from shopfloor.twins.framework import Twin

DEFAULT_HOST = "127.0.0.1"
#: How long start() waits for uvicorn to accept connections.
DEFAULT_START_TIMEOUT_S = 10.0
#: In-flight requests (a hung one, say) get this long to finish when a twin stops.
DEFAULT_GRACEFUL_SHUTDOWN_S = 0.5


class TwinServer:
    def __init__(
        self,
        twin: Twin,
        *,
        chaos: TwinChaos | None = None,
        chaos_seed: int = 0,
        host: str = DEFAULT_HOST,
        port: int = 0,
        start_timeout_s: float = DEFAULT_START_TIMEOUT_S,
    ) -> None:
        self.twin = twin
        self.host = host
        self.port = port
        self.start_timeout_s = start_timeout_s
        self.app: TwinApp = twin.asgi_app()
        self.app.chaos = ChaosEngine(twin.name, chaos, chaos_seed)
        self.app.on_outage = self.outage
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._lifecycle = threading.RLock()
        self._restart_timer: threading.Timer | None = None
        self._stopped = False

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def _bind(self) -> socket.socket:
        # proto must say TCP: asyncio sets TCP_NODELAY only on sockets whose proto is IPPROTO_TCP, and
        # without it every response pays the 40 ms Nagle/delayed-ACK stall.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(128)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        return sock

    def start(self) -> TwinServer:
        with self._lifecycle:
            if self._server is not None:
                return self
            self._stopped = False
            sock = self._bind()
            config = uvicorn.Config(
                self.app,
                log_level="error",
                access_log=False,
                lifespan="off",
                http="h11",
                loop="asyncio",
                timeout_graceful_shutdown=DEFAULT_GRACEFUL_SHUTDOWN_S,
            )
            server = uvicorn.Server(config)
            thread = threading.Thread(
                target=lambda: asyncio.run(server.serve(sockets=[sock])),
                name=f"twin-{self.twin.name}",
                daemon=True,
            )
            thread.start()
            deadline = time.monotonic() + self.start_timeout_s
            while not server.started:
                if not thread.is_alive() or time.monotonic() > deadline:
                    server.should_exit = True
                    sock.close()
                    raise RuntimeError(f"twin {self.twin.name!r} did not start on {self.url}")
                time.sleep(0.005)
            self._server, self._thread = server, thread
            self.twin.url = self.url
            return self

    def _shutdown(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.should_exit = True
        if thread is not None:
            thread.join(timeout=DEFAULT_GRACEFUL_SHUTDOWN_S + 5)

    def stop(self) -> None:
        with self._lifecycle:
            self._stopped = True
            if self._restart_timer is not None:
                self._restart_timer.cancel()
                self._restart_timer = None
            self._shutdown()

    def outage(self, seconds: float) -> None:
        """Stop listening now; listen again on the same port after `seconds` (unless stopped)."""
        with self._lifecycle:
            if self._stopped or self._server is None:
                return
            self._shutdown()
            self._restart_timer = threading.Timer(seconds, self._come_back)
            self._restart_timer.daemon = True
            self._restart_timer.start()

    def _come_back(self) -> None:
        with self._lifecycle:
            self._restart_timer = None
            if not self._stopped:
                self.start()

    def __enter__(self) -> TwinServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
