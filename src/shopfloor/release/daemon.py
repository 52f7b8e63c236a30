"""The target daemon: a long-lived process per target running the proxy and its backends.

`shopfloor deploy` is a short command; the service it deploys must outlive it.
So each target gets one detached daemon (`python -m shopfloor.release.daemon`)
that supervises the stable and canary backends, runs the traffic-splitting
proxy on the target's port and answers a small control API on a second
loopback port. Every control call is idempotent and keyed by deployment id —
a deploy command that was killed and is resumed asks again and gets the
backend that already runs, never a second start.

The control file `release/targets/<name>/daemon.json` says where the control
API listens.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import time
from pathlib import Path
from typing import Any

from shopfloor.release import http1, supervisor
from shopfloor.release.fault import FaultInjector
from shopfloor.release.proxy import Metrics, Proxy, Router, serve_connection
from shopfloor.release.supervisor import Backend, BackendFailed

#: How often the supervisor checks that backends are still running.
DEFAULT_SUPERVISE_INTERVAL_S = 0.5


def target_dir(state: Path, name: str) -> Path:
    return state / "release" / "targets" / name


class TargetDaemon:
    def __init__(self, name: str, state: Path) -> None:
        self.name = name
        self.dir = target_dir(state, name)
        self.backends: dict[str, Backend] = {}
        #: Faults injected on a canary, by deployment id (a resumed deploy keeps its counters).
        self.faults: dict[str, FaultInjector] = {}
        self.router = Router()
        self.metrics = Metrics()
        self.lock = asyncio.Lock()
        self.proxy_port = 0
        self.weight_changed_at = time.time()
        self.stopping = asyncio.Event()

    # -- state ---------------------------------------------------------------------------
    def live(self) -> dict[str, tuple[int, str]]:
        return {role: (b.port, b.digest) for role, b in self.backends.items() if b.port}

    def traffic(self) -> list[dict[str, Any]]:
        stable, canary = self.backends.get("stable"), self.backends.get("canary")
        weight = self.router.canary_weight if stable and canary else (100 if canary else 0)
        shares = []
        if stable:
            shares.append({"role": "stable", "digest": stable.digest, "deployment_id": stable.deployment_id,
                           "weight": 100 - weight})
        if canary:
            shares.append({"role": "canary", "digest": canary.digest, "deployment_id": canary.deployment_id,
                           "weight": weight})
        return shares

    def fault_for(self, role: str) -> FaultInjector | None:
        """The canary's fault, only while it shares traffic with a stable release (never stable's share)."""
        canary = self.backends.get("canary")
        if role != "canary" or canary is None or "stable" not in self.backends:
            return None
        return self.faults.get(canary.deployment_id)

    def describe(self, backend: Backend) -> dict[str, Any]:
        fault = self.faults.get(backend.deployment_id) if backend.role == "canary" else None
        return {**backend.describe(), **({"fault": fault.status()} if fault else {})}

    def state(self) -> dict[str, Any]:
        return {"target": self.name, "pid": os.getpid(), "proxy_port": self.proxy_port,
                "canary_weight": self.router.canary_weight, "weight_changed_at": self.weight_changed_at,
                "backends": {r: self.describe(b) for r, b in self.backends.items()},
                "traffic": self.traffic()}

    def set_weight(self, weight: int) -> None:
        self.router.canary_weight = weight
        self.weight_changed_at = time.time()

    # -- control operations (serialized by self.lock) -------------------------------------
    async def ensure_backend(self, spec: dict[str, Any]) -> dict[str, Any]:
        role = spec["role"]
        current = self.backends.get(role)
        if current and current.deployment_id == spec["deployment_id"] and current.alive():
            return {"started": False, "backend": self.describe(current)}
        for other_role, other in self.backends.items():  # resumed after promotion: already serving
            if other_role != role and other.deployment_id == spec["deployment_id"] and other.alive():
                return {"started": False, "backend": self.describe(other)}
        if current:
            self.backends.pop(role)
            self.faults.pop(current.deployment_id, None)
            if role == "canary":
                self.set_weight(0)
            await asyncio.to_thread(supervisor.stop, current)
        backend = Backend(role=role, deployment_id=spec["deployment_id"], digest=spec["digest"],
                          workdir=self.dir / "work" / f"{spec['deployment_id']}-{role}",
                          command=spec["command"], health_path=spec["health_path"], env=spec.get("env", {}),
                          health_timeout_s=float(spec["health_timeout_s"]))
        await asyncio.to_thread(supervisor.prepare_workdir, Path(spec["tree"]), backend.workdir)
        await asyncio.to_thread(supervisor.start, backend)
        try:
            await asyncio.to_thread(supervisor.wait_healthy, backend, backend.health_timeout_s)
        except BackendFailed:
            await asyncio.to_thread(supervisor.stop, backend)
            raise
        self.backends[role] = backend
        if role == "canary" and spec.get("fault"):
            self.faults[backend.deployment_id] = FaultInjector.from_spec(spec["fault"])
        return {"started": True, "backend": self.describe(backend)}

    async def promote(self, deployment_id: str) -> dict[str, Any]:
        stable, canary = self.backends.get("stable"), self.backends.get("canary")
        if stable and stable.deployment_id == deployment_id:
            return {"promoted": False}
        if not canary or canary.deployment_id != deployment_id:
            raise LookupError(f"deployment {deployment_id} is not the canary of {self.name}")
        self.set_weight(0)
        self.backends["stable"] = canary
        canary.role = "stable"
        del self.backends["canary"]
        self.faults.pop(deployment_id, None)
        if stable:
            await asyncio.to_thread(supervisor.stop, stable)
        return {"promoted": True}

    async def abort(self, deployment_id: str) -> dict[str, Any]:
        canary = self.backends.get("canary")
        if not canary or canary.deployment_id != deployment_id:
            return {"aborted": False, "stable_since": self.weight_changed_at}
        self.set_weight(0)
        restored_at = self.weight_changed_at
        del self.backends["canary"]
        self.faults.pop(deployment_id, None)
        await asyncio.to_thread(supervisor.stop, canary)
        return {"aborted": True, "stable_since": restored_at}

    async def supervise(self) -> None:
        while True:
            await asyncio.sleep(DEFAULT_SUPERVISE_INTERVAL_S)
            async with self.lock:
                for backend in list(self.backends.values()):
                    if backend.alive() or backend.restarts >= supervisor.DEFAULT_MAX_RESTARTS:
                        continue
                    backend.restarts += 1
                    with contextlib.suppress(OSError, BackendFailed):
                        await asyncio.to_thread(supervisor.start, backend)
                        await asyncio.to_thread(supervisor.wait_healthy, backend, backend.health_timeout_s)

    async def shutdown(self) -> None:
        for backend in list(self.backends.values()):
            await asyncio.to_thread(supervisor.stop, backend)
        self.backends.clear()

    # -- control API ---------------------------------------------------------------------
    async def control(self, req: http1.Request) -> tuple[int, list[tuple[str, str]], bytes]:
        """JSON control calls; mutations are serialized so each sees the previous one's result."""
        try:
            status, data = await self._control(req)
        except (KeyError, ValueError) as exc:
            status, data = 400, {"error": f"bad control request: {exc}"}
        return status, [("content-type", "application/json")], json.dumps(data).encode()

    async def _control(self, req: http1.Request) -> tuple[int, dict[str, Any]]:
        if req.method == "GET" and req.path == "/state":
            return 200, self.state()
        if req.method == "GET" and req.path == "/metrics":
            q = req.query
            return 200, self.metrics.summary(q.get("role", "canary"), float(q.get("since", 0)))
        if req.method == "GET" and req.path == "/live-digests":
            return 200, {r: await asyncio.to_thread(b.live_digest) for r, b in self.backends.items()}
        if req.method == "POST" and req.path == "/stop":
            self.stopping.set()
            return 200, {"stopping": True}
        body = json.loads(req.body or b"{}")
        ops = {"/backend": lambda: self.ensure_backend(body),
               "/weight": lambda: self._weight(int(body["canary_weight"])),
               "/promote": lambda: self.promote(body["deployment_id"]),
               "/abort": lambda: self.abort(body["deployment_id"])}
        if req.method != "POST" or req.path not in ops:
            return 404, {"error": f"no control endpoint {req.method} {req.path}"}
        async with self.lock:
            try:
                result = await ops[req.path]()
            except BackendFailed as exc:
                return 502, {"error": str(exc), "state": self.state()}
            except LookupError as exc:
                return 409, {"error": str(exc), "state": self.state()}
        return 200, {**result, "state": self.state()}

    async def _weight(self, weight: int) -> dict[str, Any]:
        if not 0 <= weight <= 100:
            raise ValueError(f"canary_weight {weight} outside 0..100")
        self.set_weight(weight)
        return {}

    async def run(self, proxy_port: int) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        proxy = Proxy(self.live, self.router, self.metrics, fault_for=self.fault_for)
        proxy_server = await asyncio.start_server(
            lambda r, w: serve_connection(r, w, proxy.respond), sock=_listen(proxy_port))
        control_server = await asyncio.start_server(
            lambda r, w: serve_connection(r, w, self.control), sock=_listen(0))
        self.proxy_port = proxy_server.sockets[0].getsockname()[1]
        control_port = control_server.sockets[0].getsockname()[1]
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        supervise = asyncio.create_task(self.supervise())
        control_file = self.dir / "daemon.json"
        tmp = control_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"pid": os.getpid(), "control_port": control_port,
                                   "proxy_port": self.proxy_port, "started_at": time.time()}))
        os.replace(tmp, control_file)
        try:
            await self.stopping.wait()
        finally:
            supervise.cancel()
            proxy_server.close()
            control_server.close()
            async with self.lock:
                await self.shutdown()
            with contextlib.suppress(FileNotFoundError):
                control_file.unlink()


def _listen(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def main() -> None:
    parser = argparse.ArgumentParser(description="shopfloor target daemon (started by shopfloor deploy)")
    parser.add_argument("--target", required=True)
    parser.add_argument("--state", required=True, type=Path)
    parser.add_argument("--proxy-port", type=int, default=0)
    args = parser.parse_args()
    asyncio.run(TargetDaemon(args.target, args.state).run(args.proxy_port))


if __name__ == "__main__":
    main()
