"""`SandboxedExecutionEnvironment`: every command runs inside bubblewrap.

The environment starts one sandbox (`instance.SandboxInstance`) whose
supervisor forks each command in its own session; a sandbox that dies is
replaced on the next command. This module builds the bubblewrap command line
from a `SandboxPolicy` and attributes each command's end to a limit.

Isolation model (docs/sandbox.md has the long form):

- filesystem: the host root is bound read-only; the workspace is the only
  writable host path, plus a private size-capped tmpfs on /tmp. Home
  directories, /run and the shopfloor state directory are replaced by empty
  tmpfs mounts. `.git` and the policy's read-only paths are bound read-only
  over themselves inside the workspace;
- namespaces: new user (uid 1000, no capabilities, no nested user namespaces),
  PID, IPC, UTS and network namespaces; bubblewrap dies with its parent and
  starts the supervisor in a new session;
- network: the namespace has only `lo`. Allowed loopback ports are bridged
  through Unix sockets (`forward.py`); nothing else is reachable;
- environment: rebuilt from an allow-list; HOME and TMPDIR point at /tmp;
- limits: rlimits for CPU seconds, file size and open files; a cgroup for the
  process count and memory (rlimits where cgroups are not writable); a
  wall-clock timeout that kills the whole tree; capped output.

File operations run on the host but are confined to the workspace: paths are
resolved through symlinks and must stay inside, and read-only paths refuse
writes.
"""

from __future__ import annotations

import dataclasses
import glob as _glob
import os
import resource
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from shopfloor.errors import UserError
from shopfloor.sandbox import forward
from shopfloor.sandbox.cgroups import SandboxCgroup
from shopfloor.sandbox.environment import (
    DEFAULT_SHELL,
    ExecResult,
    clamp_timeout_ms,
    host_os_version,
    host_platform,
    to_exec_result,
)
from shopfloor.sandbox.files import DirEntry, FileOps, GrepOptions
from shopfloor.sandbox.instance import SandboxGoneError, SandboxInstance
from shopfloor.sandbox.policy import SandboxPolicy
from shopfloor.store import state_dir

#: The uid and gid commands run as inside the sandbox (mapped to the caller's uid outside).
SANDBOX_UID = 1000
#: Size of the private /tmp inside the sandbox, in MiB.
DEFAULT_TMP_SIZE_MB = 512
#: Hostname inside the sandbox's UTS namespace.
SANDBOX_HOSTNAME = "shopfloor-sandbox"
#: Where the Unix sockets of the allowed-port bridge appear inside the sandbox.
BRIDGE_MOUNT = "/tmp/.shopfloor-ports"
#: Exit code per limit that stopped a command (`shopfloor sandbox exec` exits with it).
LIMIT_EXIT_CODES: dict[str, int] = {
    "timeout": 124,
    "memory": 137,
    "cpu": 152,        # 128 + SIGXCPU
    "file_size": 153,  # 128 + SIGXFSZ
    "processes": 154,
}
LIMIT_REASONS: dict[str, str] = {
    "timeout": "wall-clock timeout of {timeout_s:g}s reached; the whole process tree was killed",
    "memory": "memory limit of {memory_mb} MiB exceeded; the kernel killed the process",
    "cpu": "CPU time limit of {cpu_seconds}s exceeded",
    "file_size": "file size limit of {max_file_size_mb} MiB exceeded",
    "processes": "process limit of {max_processes} reached; further forks were refused",
}
INSTALL_HINT = "apt-get install bubblewrap"
#: The directory holding the `shopfloor` package (the supervisor script lives in it).
SHOPFLOOR_CODE = Path(__file__).resolve().parents[2]


def find_bwrap() -> str:
    path = shutil.which("bwrap")
    if path is None:
        raise UserError("bubblewrap (bwrap) is not installed, so commands cannot be sandboxed",
                        where="PATH", fix=f"install it: {INSTALL_HINT}")
    return path


def _under(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _hidden_paths(policy: SandboxPolicy) -> list[Path]:
    paths = [Path(p).expanduser() for p in policy.hidden_paths]
    paths.append(state_dir())  # ledgers and sealed scenarios are never visible to agent code
    return [p.resolve() for p in paths if p.exists()]


def build_argv(bwrap: str, workspace: Path, policy: SandboxPolicy, command: Sequence[str], *,
               bridge_dir: Path | None) -> list[str]:
    """The bubblewrap command line that runs `command` (the supervisor) in a new sandbox."""
    argv = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
            "--size", str(DEFAULT_TMP_SIZE_MB * 1024 * 1024), "--tmpfs", "/tmp"]
    hidden = _hidden_paths(policy)
    # A hidden path that contains the workspace must be mounted before the workspace
    # (which is then bound back on top); any other is mounted after, so it also hides
    # copies inside the workspace.
    before = [p for p in hidden if _under(workspace, p)]
    after = [p for p in hidden if not _under(workspace, p)]
    for path in before:
        argv += ["--tmpfs", str(path)]
    argv += ["--bind", str(workspace), str(workspace)]
    for path in after:
        argv += ["--tmpfs", str(path)]
    readable = [Path(p).expanduser().resolve() for p in policy.readable_paths]
    readable += git_alternates(workspace)
    # The interpreter that runs shopfloor, its environment and shopfloor's own code are a
    # toolchain, not a secret: the supervisor and the port bridge run on them inside, so
    # they stay visible even under a hidden home or the host's /tmp (a checkout in /tmp).
    readable += [Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(), SHOPFLOOR_CODE]
    for path in readable:
        if path.exists() and (any(_under(path, h) for h in hidden) or _under(path, Path("/tmp"))):
            argv += ["--ro-bind", str(path), str(path)]
    for path in read_only_paths(workspace, policy):
        argv += ["--ro-bind", str(path), str(path)]
    if bridge_dir is not None:
        argv += ["--ro-bind", str(bridge_dir), BRIDGE_MOUNT]
    argv += ["--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-net",
             "--unshare-cgroup-try", "--disable-userns", "--cap-drop", "ALL",
             "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--hostname", SANDBOX_HOSTNAME,
             "--die-with-parent", "--new-session", "--chdir", str(workspace), "--clearenv", "--"]
    return argv + list(command)


def git_alternates(workspace: Path) -> list[Path]:
    """Object stores a workspace repository borrows from (`git clone --shared`), to expose read-only.

    Without them git inside the sandbox cannot read history whenever the
    project lives under a hidden or private path.
    """
    alternates = workspace / ".git" / "objects" / "info" / "alternates"
    try:
        lines = alternates.read_text().splitlines()
    except OSError:
        return []
    return [Path(line.strip()).resolve() for line in lines if line.strip() and not line.startswith("#")]


def read_only_paths(workspace: Path, policy: SandboxPolicy) -> list[Path]:
    """Existing paths inside the workspace matching the policy's read-only patterns.

    A match inside an already read-only directory is dropped: `scenarios/**`
    becomes one bind of `scenarios`, not one per file.
    """
    matches: set[Path] = set()
    for pattern in policy.read_only_paths:
        full = pattern if os.path.isabs(pattern) else str(workspace / pattern)
        for match in _glob.glob(full, recursive=True, include_hidden=True):
            if not os.path.lexists(match):  # glob("missing/**") yields "missing/" itself
                continue
            real = Path(os.path.realpath(match))
            if _under(real, workspace) and real != workspace:
                matches.add(real)
    out: list[Path] = []
    for path in sorted(matches, key=lambda p: (len(p.parts), str(p))):
        if not any(_under(path, kept) for kept in out):
            out.append(path)
    return out


def sandbox_environment(policy: SandboxPolicy, extra: Mapping[str, str] | None) -> dict[str, str]:
    env = {k: os.environ[k] for k in policy.env_allowlist if k in os.environ}
    env.update({"HOME": "/tmp", "TMPDIR": "/tmp", "USER": "sandbox", "LOGNAME": "sandbox"})
    env.update(extra or {})
    return env


def command_rlimits(policy: SandboxPolicy, *, with_cgroup: bool) -> list[tuple[int, int, int]]:
    """(resource, soft, hard) for every command (set once on the supervisor, inherited).

    Memory and processes fall back to rlimits where there are no cgroups.
    """
    mib = 1024 * 1024
    limits = [
        (resource.RLIMIT_CPU, policy.cpu_seconds, policy.cpu_seconds + 1),
        (resource.RLIMIT_FSIZE, policy.max_file_size_mb * mib, policy.max_file_size_mb * mib),
        (resource.RLIMIT_NOFILE, policy.max_open_files, policy.max_open_files),
    ]
    if not with_cgroup:
        limits.append((resource.RLIMIT_AS, policy.memory_mb * mib, policy.memory_mb * mib))
        limits.append((resource.RLIMIT_NPROC, policy.max_processes, policy.max_processes))
    return limits


def classify_limit(result: ExecResult, oom_kills: int, refused_forks: int) -> str | None:
    """Which limit (if any) ended the command, given the cgroup counters' growth during it."""
    if oom_kills and result.exit_code == 137:
        return "memory"
    if result.exit_code == LIMIT_EXIT_CODES["cpu"]:
        return "cpu"
    if result.exit_code == LIMIT_EXIT_CODES["file_size"]:
        return "file_size"
    if refused_forks and (result.timed_out or result.exit_code != 0):
        return "processes"
    return "timeout" if result.timed_out else None


class SandboxedExecutionEnvironment:
    """The default execution environment: each command in a fresh bubblewrap sandbox."""

    def __init__(self, workspace: str | Path, policy: SandboxPolicy | None = None, *,
                 default_timeout_ms: int | None = None) -> None:
        self.workspace = Path(workspace).resolve()
        self.policy = policy or SandboxPolicy()
        self.default_timeout_ms = default_timeout_ms or int(self.policy.timeout_s * 1000)
        self._files = FileOps(self.workspace, confine=True)
        self._bwrap: str | None = None
        self._bridge: forward.HostBridge | None = None
        self._bridge_dir: Path | None = None
        self._instance: SandboxInstance | None = None
        self._lock = threading.Lock()

    # -- lifecycle
    def initialize(self) -> None:
        """Check bubblewrap and the workspace, open the port bridge, start the sandbox."""
        with self._lock:
            self._bwrap = find_bwrap()
            if not self.workspace.is_dir():
                raise UserError("workspace directory does not exist", where=str(self.workspace),
                                fix="create it, or pass an existing directory with --workspace")
            if self.policy.allowed_ports and self._bridge is None:
                self._bridge_dir = Path(tempfile.mkdtemp(prefix="shopfloor-ports-"))
                self._bridge = forward.HostBridge(self._bridge_dir, self.policy.allowed_ports)
                self._bridge.start()
            self._ensure_instance()

    def _ensure_instance(self) -> SandboxInstance:
        """The running sandbox; a new one if it never started or hostile code ended it."""
        if self._instance is not None and self._instance.alive:
            return self._instance
        if self._instance is not None:
            self._instance.stop()
        assert self._bwrap is not None
        bwrap = self._bwrap
        cgroup = SandboxCgroup.create(max_processes=self.policy.max_processes,
                                      memory_bytes=self.policy.memory_mb * 1024 * 1024)
        instance = SandboxInstance(cgroup)
        mount = BRIDGE_MOUNT if self._bridge_dir is not None else "-"
        rlimits = command_rlimits(self.policy, with_cgroup=cgroup is not None)
        instance.start(lambda fd: build_argv(
            bwrap, self.workspace, self.policy,
            SandboxInstance.supervisor_command(fd, rlimits, mount, self.policy.allowed_ports),
            bridge_dir=self._bridge_dir))
        self._instance = instance
        return instance

    def cleanup(self) -> None:
        """Kill everything still running in the sandbox and close the port bridge."""
        with self._lock:
            if self._instance is not None:
                self._instance.stop()
                self._instance = None
            if self._bridge is not None:
                self._bridge.close()
                self._bridge = None
            if self._bridge_dir is not None:
                shutil.rmtree(self._bridge_dir, ignore_errors=True)
                self._bridge_dir = None

    def __enter__(self) -> SandboxedExecutionEnvironment:
        self.initialize()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()

    # -- commands
    def exec_command(self, command: str, timeout_ms: int | None = None, working_dir: str | None = None,
                     env_vars: Mapping[str, str] | None = None) -> ExecResult:
        return self.run([*DEFAULT_SHELL, command], timeout_ms=timeout_ms, working_dir=working_dir,
                        env_vars=env_vars)

    def run(self, argv: Sequence[str], timeout_ms: int | None = None, working_dir: str | None = None,
            env_vars: Mapping[str, str] | None = None,
            sink: Callable[[str, bytes], None] | None = None) -> ExecResult:
        """Run `argv` (no shell) in the sandbox; `ExecResult.limit` names the limit that stopped it.

        `sink("out" | "err", chunk)` sees the output live, as it arrives.
        """
        if self._bwrap is None:
            self.initialize()
        timeout_ms = clamp_timeout_ms(timeout_ms, self.default_timeout_ms)
        cwd = self._files.resolve(working_dir) if working_dir else self.workspace
        for attempt in (1, 2):  # a sandbox that died since the last command is replaced once
            with self._lock:
                instance = self._ensure_instance()
            oom_before, forks_before = instance.counters()
            try:
                outcome = instance.exec(
                    argv, cwd=str(cwd), env=sandbox_environment(self.policy, env_vars),
                    timeout_s=timeout_ms / 1000, kill_grace_s=self.policy.kill_grace_s,
                    max_output_bytes=self.policy.max_output_bytes, sink=sink)
                break
            except SandboxGoneError:
                if attempt == 2:
                    raise
                with self._lock:
                    instance.stop()
        oom_after, forks_after = instance.counters()
        result = to_exec_result(outcome)
        limit = classify_limit(result, oom_after - oom_before, forks_after - forks_before)
        if limit is None:
            return result
        return dataclasses.replace(result, exit_code=LIMIT_EXIT_CODES[limit], limit=limit)

    def limit_reason(self, limit: str, timeout_ms: int | None = None) -> str:
        """One line saying which limit stopped a command, with its value."""
        values = self.policy.model_dump()
        values["timeout_s"] = clamp_timeout_ms(timeout_ms, self.default_timeout_ms) / 1000
        return LIMIT_REASONS[limit].format(**values)

    # -- file operations: on the host, confined to the workspace
    def _check_writable(self, path: str) -> Path:
        target = self._files.resolve(path)
        for protected in read_only_paths(self.workspace, self.policy):
            if _under(target, protected):
                raise PermissionError(f"{path}: read-only in the sandbox ({protected})")
        return target

    def read_file(self, path: str, offset: int | None = None, limit: int | None = None) -> str:
        return self._files.read_file(path, offset, limit)

    def write_file(self, path: str, content: str) -> None:
        self._check_writable(path)
        self._files.write_file(path, content)

    def file_exists(self, path: str) -> bool:
        return self._files.file_exists(path)

    def list_directory(self, path: str, depth: int = 1) -> list[DirEntry]:
        return self._files.list_directory(path, depth)

    def grep(self, pattern: str, path: str | None = None, options: GrepOptions | None = None) -> str:
        return self._files.grep(pattern, path, options)

    def glob(self, pattern: str, path: str | None = None) -> list[str]:
        return self._files.glob(pattern, path)

    # -- metadata
    def working_directory(self) -> str:
        return str(self.workspace)

    def platform(self) -> str:
        return host_platform()

    def os_version(self) -> str:
        return host_os_version()

