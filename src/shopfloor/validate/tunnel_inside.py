"""Inside half of the inbound tunnel: runs in the candidate's sandbox, as a script.

    python -E -s tunnel_inside.py RENDEZVOUS_PORT SERVICE_PORT POOL

The sandbox's network namespace lets connections out only to allowed host
ports, and nothing in. So this relay *dials out* to the host's rendezvous port
(bridged like a twin's port) and keeps POOL idle connections waiting there. The
host hands each incoming client one of them; when its first bytes arrive here,
the relay connects to the candidate on 127.0.0.1:SERVICE_PORT inside the
sandbox, pumps both ways, and dials a replacement.

Besides the standard library it uses only `shopfloor.sandbox.forward` (itself
standard library only), found through this file's own location: the sandbox
mounts shopfloor's code read-only, and `-E` ignores PYTHONPATH, so the package
need not be installed where the interpreter's site-packages would find it.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from pathlib import Path

if __name__ == "__main__":  # run as a script: the directory holding the shopfloor package
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from shopfloor.sandbox.forward import splice  # found through the path set just above

_CHUNK = 1 << 16
#: Pause before re-dialing a rendezvous that refused (the host is not listening yet or is closing).
_REDIAL_PAUSE_S = 0.05


def _serve_one(upstream: socket.socket, first: bytes, service_port: int) -> None:
    try:
        service = socket.create_connection(("127.0.0.1", service_port))
    except OSError:  # the candidate is not listening (yet): the client sees the connection close
        upstream.close()
        return
    service.sendall(first)
    splice(upstream, service)


def _dialer(rendezvous_port: int, service_port: int) -> None:
    """Keep one idle connection at the host; serve it when a client's bytes arrive."""
    while True:
        try:
            upstream = socket.create_connection(("127.0.0.1", rendezvous_port))
        except OSError:
            time.sleep(_REDIAL_PAUSE_S)
            continue
        try:
            first = upstream.recv(_CHUNK)
        except OSError:
            first = b""
        if not first:  # the host closed the idle connection: dial again
            upstream.close()
            time.sleep(_REDIAL_PAUSE_S)
            continue
        threading.Thread(target=_serve_one, args=(upstream, first, service_port), daemon=True).start()


def main(argv: list[str]) -> None:
    rendezvous_port, service_port, pool = (int(a) for a in argv[1:4])
    for _ in range(pool):
        threading.Thread(target=_dialer, args=(rendezvous_port, service_port), daemon=True).start()
    threading.Event().wait()


if __name__ == "__main__":
    main(sys.argv)
