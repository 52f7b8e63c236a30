"""The execution environment every agent tool goes through (coding-agent-loop spec, section 4).

`ExecutionEnvironment` is the Protocol: file operations, command execution,
search, lifecycle and metadata. `LocalExecutionEnvironment` is the spec's
required implementation: it runs commands on this machine in their own process
group, kills the group on timeout (SIGTERM, then SIGKILL after a grace period)
and filters secrets out of the inherited environment. It isolates nothing; the
default for agent work is `shopfloor.sandbox.bwrap.SandboxedExecutionEnvironment`.
"""

from __future__ import annotations

import os
import platform as _platform
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from shopfloor.sandbox.envvars import DEFAULT_ENV_POLICY, EnvPolicy, filter_environment
from shopfloor.sandbox.files import DirEntry, FileOps, GrepOptions
from shopfloor.sandbox.process import (
    DEFAULT_KILL_GRACE_S,
    DEFAULT_MAX_OUTPUT_BYTES,
    ProcessOutcome,
    kill_group,
    run_process,
)

__all__ = [
    "DEFAULT_COMMAND_TIMEOUT_MS",
    "MAX_COMMAND_TIMEOUT_MS",
    "DirEntry",
    "ExecResult",
    "ExecutionEnvironment",
    "GrepOptions",
    "LocalExecutionEnvironment",
]

#: Applied when exec_command gets no timeout (spec 5.4: default_command_timeout_ms).
DEFAULT_COMMAND_TIMEOUT_MS = 10_000
#: Upper bound for any per-call timeout (spec 5.4: max_command_timeout_ms).
MAX_COMMAND_TIMEOUT_MS = 600_000
#: The shell commands run under (spec 4.2: the platform's default shell).
DEFAULT_SHELL = ("/bin/bash", "-c")


@dataclass(frozen=True)
class ExecResult:
    """The outcome of one command (spec 4.1), plus why a limit stopped it, if one did."""

    stdout: str
    stderr: str
    exit_code: int
    timed_out: bool
    duration_ms: int
    #: Which limit killed the command ("timeout", "memory", "cpu", "file_size", "processes") or None.
    limit: str | None = None
    #: Output bytes read but not kept because of the output cap.
    dropped_bytes: int = 0

    @property
    def output(self) -> str:
        """stdout and stderr combined, as the shell tool reports them."""
        if self.stdout and self.stderr:
            return self.stdout + ("" if self.stdout.endswith("\n") else "\n") + self.stderr
        return self.stdout or self.stderr


@runtime_checkable
class ExecutionEnvironment(Protocol):
    """Where tools run. Paths may be absolute or relative to `working_directory()`."""

    def read_file(self, path: str, offset: int | None = None, limit: int | None = None) -> str: ...

    def write_file(self, path: str, content: str) -> None: ...

    def file_exists(self, path: str) -> bool: ...

    def list_directory(self, path: str, depth: int = 1) -> list[DirEntry]: ...

    def exec_command(self, command: str, timeout_ms: int | None = None, working_dir: str | None = None,
                     env_vars: Mapping[str, str] | None = None) -> ExecResult: ...

    def grep(self, pattern: str, path: str | None = None, options: GrepOptions | None = None) -> str: ...

    def glob(self, pattern: str, path: str | None = None) -> list[str]: ...

    def initialize(self) -> None: ...

    def cleanup(self) -> None: ...

    def working_directory(self) -> str: ...

    def platform(self) -> str: ...

    def os_version(self) -> str: ...


def host_platform() -> str:
    """"linux", "darwin" or "windows", as the spec names platforms."""
    return "windows" if sys.platform.startswith("win") else sys.platform.rstrip("0123456789")


def host_os_version() -> str:
    return f"{_platform.system()} {_platform.release()}"


def clamp_timeout_ms(timeout_ms: int | None, default_ms: int) -> int:
    """The timeout to apply: the default when none is given, never above the spec's maximum."""
    value = default_ms if timeout_ms is None else timeout_ms
    return max(1, min(int(value), MAX_COMMAND_TIMEOUT_MS))


def to_exec_result(outcome: ProcessOutcome) -> ExecResult:
    code = outcome.returncode
    if code < 0:  # killed by a signal: report it the way a shell does
        code = 128 - code
    return ExecResult(stdout=outcome.stdout.decode("utf-8", errors="replace"),
                      stderr=outcome.stderr.decode("utf-8", errors="replace"),
                      exit_code=code, timed_out=outcome.timed_out, duration_ms=outcome.duration_ms,
                      limit="timeout" if outcome.timed_out else None,
                      dropped_bytes=outcome.dropped_bytes)


class LocalExecutionEnvironment:
    """Runs everything directly on this machine; no isolation beyond env filtering."""

    def __init__(self, working_dir: str | Path = ".", *, env_policy: EnvPolicy = DEFAULT_ENV_POLICY,
                 default_timeout_ms: int = DEFAULT_COMMAND_TIMEOUT_MS,
                 kill_grace_s: float = DEFAULT_KILL_GRACE_S,
                 max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES) -> None:
        self._files = FileOps(Path(working_dir))
        self.env_policy: EnvPolicy = env_policy
        self.default_timeout_ms = default_timeout_ms
        self.kill_grace_s = kill_grace_s
        self.max_output_bytes = max_output_bytes
        self._running: set[int] = set()
        self._lock = threading.Lock()

    # -- file operations
    def read_file(self, path: str, offset: int | None = None, limit: int | None = None) -> str:
        return self._files.read_file(path, offset, limit)

    def write_file(self, path: str, content: str) -> None:
        self._files.write_file(path, content)

    def file_exists(self, path: str) -> bool:
        return self._files.file_exists(path)

    def list_directory(self, path: str, depth: int = 1) -> list[DirEntry]:
        return self._files.list_directory(path, depth)

    # -- commands
    def exec_command(self, command: str, timeout_ms: int | None = None, working_dir: str | None = None,
                     env_vars: Mapping[str, str] | None = None) -> ExecResult:
        timeout = clamp_timeout_ms(timeout_ms, self.default_timeout_ms)
        cwd = self._files.resolve(working_dir) if working_dir else self._files.root
        env = filter_environment(os.environ, self.env_policy, env_vars)
        spawned: list[int] = []

        def track(proc: subprocess.Popen[bytes]) -> None:
            with self._lock:
                self._running.add(proc.pid)
            spawned.append(proc.pid)

        try:
            outcome = run_process([*DEFAULT_SHELL, command], cwd=str(cwd), env=env,
                                  timeout_s=timeout / 1000, kill_grace_s=self.kill_grace_s,
                                  max_output_bytes=self.max_output_bytes, on_start=track)
        finally:
            with self._lock:
                self._running.difference_update(spawned)
        return to_exec_result(outcome)

    # -- search
    def grep(self, pattern: str, path: str | None = None, options: GrepOptions | None = None) -> str:
        return self._files.grep(pattern, path, options)

    def glob(self, pattern: str, path: str | None = None) -> list[str]:
        return self._files.glob(pattern, path)

    # -- lifecycle
    def initialize(self) -> None:
        if not self._files.root.is_dir():
            raise FileNotFoundError(f"{self._files.root}: working directory does not exist")

    def cleanup(self) -> None:
        """Kill every command still running (an aborted session must leave nothing behind)."""
        with self._lock:
            groups = list(self._running)
            self._running.clear()
        for pgid in groups:
            kill_group(pgid, signal.SIGKILL)

    # -- metadata
    def working_directory(self) -> str:
        return str(self._files.root)

    def platform(self) -> str:
        return host_platform()

    def os_version(self) -> str:
        return host_os_version()
