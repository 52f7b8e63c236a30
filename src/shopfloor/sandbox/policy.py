"""What a sandboxed command may do: `SandboxPolicy`, read from `[sandbox]` in shopfloor.toml.

Every limit has a named default here and can be overridden in the config
section, by a `shopfloor sandbox exec` flag, or by the caller building a policy.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from shopfloor.config import ProjectFile
from shopfloor.sandbox.environment import DEFAULT_COMMAND_TIMEOUT_MS
from shopfloor.sandbox.process import DEFAULT_KILL_GRACE_S, DEFAULT_MAX_OUTPUT_BYTES

#: Wall-clock seconds for a command when the caller gives none (the spec's 10 s shell default).
DEFAULT_TIMEOUT_S = DEFAULT_COMMAND_TIMEOUT_MS / 1000
#: CPU seconds per process (RLIMIT_CPU); SIGXCPU at the limit, SIGKILL one second later.
DEFAULT_CPU_SECONDS = 300
#: Memory for the whole sandbox in MiB (cgroup memory limit; RLIMIT_AS per process without cgroups).
DEFAULT_MEMORY_MB = 2048
#: Processes and threads alive at once in the sandbox (cgroup pids.max; RLIMIT_NPROC without cgroups).
DEFAULT_MAX_PROCESSES = 256
#: Largest file a process may write, in MiB (RLIMIT_FSIZE).
DEFAULT_MAX_FILE_SIZE_MB = 1024
#: Open file descriptors per process (RLIMIT_NOFILE).
DEFAULT_MAX_OPEN_FILES = 1024
# Bytes of stdout and of stderr kept per command (DEFAULT_MAX_OUTPUT_BYTES) and seconds
# between SIGTERM and SIGKILL (DEFAULT_KILL_GRACE_S) are the process runner's defaults,
# shared with the local environment.
#: Workspace paths (relative to the workspace, or absolute) that stay read-only inside.
DEFAULT_READ_ONLY_PATHS: tuple[str, ...] = (".git",)
#: Host paths replaced by an empty directory inside: home directories (secrets) and
#: /run (host daemon sockets, which a network namespace does not cover). `~` is the
#: invoking user's home.
DEFAULT_HIDDEN_PATHS: tuple[str, ...] = ("~", "/root", "/home", "/run")
#: Host environment variables passed into the sandbox; everything else is dropped.
DEFAULT_ENV_ALLOWLIST: tuple[str, ...] = ("PATH", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TERM", "TZ")


class SandboxPolicy(BaseModel):
    """Limits and openings for one sandbox; `[sandbox]` in shopfloor.toml."""

    model_config = ConfigDict(extra="forbid")

    allowed_ports: list[int] = Field(default_factory=list,
                                     description="loopback TCP ports on the host reachable from inside")
    timeout_s: float = Field(DEFAULT_TIMEOUT_S, gt=0)
    cpu_seconds: int = Field(DEFAULT_CPU_SECONDS, gt=0)
    memory_mb: int = Field(DEFAULT_MEMORY_MB, ge=16)
    max_processes: int = Field(DEFAULT_MAX_PROCESSES, ge=4)
    max_file_size_mb: int = Field(DEFAULT_MAX_FILE_SIZE_MB, gt=0)
    max_open_files: int = Field(DEFAULT_MAX_OPEN_FILES, ge=16)
    max_output_bytes: int = Field(DEFAULT_MAX_OUTPUT_BYTES, ge=0)
    kill_grace_s: float = Field(DEFAULT_KILL_GRACE_S, ge=0)
    read_only_paths: list[str] = Field(default_factory=lambda: list(DEFAULT_READ_ONLY_PATHS))
    hidden_paths: list[str] = Field(default_factory=lambda: list(DEFAULT_HIDDEN_PATHS))
    #: Host paths re-exposed read-only after hiding (e.g. a toolchain under a home directory).
    readable_paths: list[str] = Field(default_factory=list)
    env_allowlist: list[str] = Field(default_factory=lambda: list(DEFAULT_ENV_ALLOWLIST))

    def with_overrides(self, **changes: object) -> SandboxPolicy:
        """A copy with the non-None `changes` applied and validated (for CLI flags)."""
        data = self.model_dump()
        data.update({k: v for k, v in changes.items() if v is not None})
        return SandboxPolicy.model_validate(data)

    @classmethod
    def from_config(cls, project: ProjectFile | None = None) -> SandboxPolicy:
        return (project or ProjectFile.load()).section("sandbox", cls)
