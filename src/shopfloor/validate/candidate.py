"""The candidate service under test, started in a sandbox and reachable from the host.

`start_candidate(...)` is a context manager: a fresh bubblewrap sandbox over the
candidate's directory whose only openings are the twins' ports (and the
tunnel's rendezvous port), the service started inside with the port to listen
on in `port_env`, an inbound tunnel that makes it reachable at `url` on the
host, and a readiness wait on `health_path`. Everything is torn down on exit.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from shopfloor.sandbox.bwrap import SandboxedExecutionEnvironment
from shopfloor.sandbox.environment import ExecResult
from shopfloor.sandbox.policy import SandboxPolicy
from shopfloor.validate.toolchain import sandbox_path
from shopfloor.validate.tunnel import InboundTunnel

#: Seconds the candidate may take to answer its health check after it is started.
DEFAULT_READY_TIMEOUT_S = 20.0
#: Pause between two readiness probes.
READY_POLL_S = 0.02
#: Bytes of the candidate's stdout/stderr kept for the report.
DEFAULT_LOG_TAIL_BYTES = 4096


class CandidateNotReady(Exception):
    """The candidate exited, or did not answer its health check in time."""


@dataclass
class CandidateSpec:
    """How to start one candidate (already rendered: no templates left)."""

    command: str
    workspace: Path
    cwd: str = "."
    env: Mapping[str, str] = field(default_factory=dict)
    port_env: str = "PORT"
    health_path: str | None = "/healthz"
    ready_timeout_s: float = DEFAULT_READY_TIMEOUT_S
    lifetime_s: float = 600.0


@dataclass
class _Log:
    data: bytearray = field(default_factory=bytearray)

    def sink(self, _stream: str, chunk: bytes) -> None:
        self.data += chunk
        if len(self.data) > 2 * DEFAULT_LOG_TAIL_BYTES:
            del self.data[:-DEFAULT_LOG_TAIL_BYTES]

    def tail(self) -> str:
        return bytes(self.data[-DEFAULT_LOG_TAIL_BYTES:]).decode(errors="replace")


class RunningCandidate:
    """A started candidate: its `url`, its sandbox (for `cli` steps) and its output so far."""

    def __init__(
        self,
        spec: CandidateSpec,
        env: SandboxedExecutionEnvironment,
        tunnel: InboundTunnel,
        environment: dict[str, str],
    ) -> None:
        self.spec = spec
        self.sandbox = env
        self.tunnel = tunnel
        self.environment = environment
        self.port = tunnel.port
        self.url = f"http://127.0.0.1:{tunnel.port}"
        self._log = _Log()
        self._result: ExecResult | None = None
        self._done = threading.Event()

    def _serve(self) -> None:
        try:
            self._result = self.sandbox.run(
                ["/bin/sh", "-c", self.spec.command],
                timeout_ms=int(self.spec.lifetime_s * 1000),
                working_dir=self.spec.cwd,
                env_vars=self.environment,
                sink=self._log.sink,
            )
        except Exception as exc:
            self._log.sink("err", f"\n{exc}\n".encode())
        finally:
            self._done.set()

    @property
    def exited(self) -> bool:
        return self._done.is_set()

    def output_tail(self) -> str:
        return self._log.tail()

    def cli(
        self, argv: Sequence[str], *, timeout_s: float, env: Mapping[str, str] | None = None
    ) -> ExecResult:
        """Run a command next to the service, in the same sandbox, directory and environment."""
        return self.sandbox.run(
            list(argv),
            timeout_ms=int(timeout_s * 1000),
            working_dir=self.spec.cwd,
            env_vars={**self.environment, **(env or {})},
        )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + self.spec.ready_timeout_s
        while time.monotonic() < deadline:
            if self.exited:
                code = self._result.exit_code if self._result else "unknown"
                raise CandidateNotReady(f"the candidate exited (status {code}) before it was ready")
            if self._probe():
                return
            time.sleep(READY_POLL_S)
        raise CandidateNotReady(
            f"the candidate did not answer {self.spec.health_path or 'on its port'} "
            f"within {self.spec.ready_timeout_s:g}s"
        )

    def _probe(self) -> bool:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
        try:
            if self.spec.health_path is None:
                conn.request("HEAD", "/")
            else:
                conn.request("GET", self.spec.health_path)
            status = conn.getresponse().status
        except (OSError, http.client.HTTPException):
            return False
        finally:
            conn.close()
        return self.spec.health_path is None or 200 <= status < 300


@contextmanager
def start_candidate(
    spec: CandidateSpec,
    *,
    allowed_ports: Sequence[int],
    hidden_paths: Sequence[Path],
    tunnel: InboundTunnel | None = None,
    policy: SandboxPolicy | None = None,
) -> Iterator[RunningCandidate]:
    """Start the candidate; yields once it is ready (raises CandidateNotReady otherwise).

    Pass a `tunnel` already listening when its port had to be known earlier (to
    render a twin's webhook URL before the twins start).
    """
    tunnel = tunnel or InboundTunnel()
    base = policy or SandboxPolicy()
    sandbox_policy = base.with_overrides(
        allowed_ports=sorted({*base.allowed_ports, *allowed_ports, tunnel.rendezvous_port}),
        hidden_paths=[*base.hidden_paths, *(str(p) for p in hidden_paths)],
        timeout_s=spec.lifetime_s,
    )
    sandbox = SandboxedExecutionEnvironment(spec.workspace, sandbox_policy)
    environment = {**sandbox_path(), **spec.env, spec.port_env: str(tunnel.port)}
    try:
        tunnel.start()
        sandbox.initialize()
        candidate = RunningCandidate(spec, sandbox, tunnel, environment)
        threading.Thread(
            target=sandbox.run,
            args=(tunnel.inside_command(tunnel.port),),
            kwargs={"timeout_ms": int(spec.lifetime_s * 1000)},
            daemon=True,
        ).start()
        threading.Thread(target=candidate._serve, daemon=True).start()
        candidate.wait_ready()
        yield candidate
    finally:
        sandbox.cleanup()
        tunnel.close()
