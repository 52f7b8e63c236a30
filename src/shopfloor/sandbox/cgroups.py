"""Per-sandbox control groups: a process cap, a memory cap, and a kill that misses nothing.

rlimits cannot cap processes for root (the kernel exempts uid 0 from
RLIMIT_NPROC, and a sandbox user maps to the caller's uid), and RLIMIT_AS caps
each process rather than the sandbox. So when the cgroup v1 `pids` and
`memory` hierarchies are writable (root on most hosts) each sandbox gets its
own group, created *under the caller's own group* so outer accounting still
holds. `kill()` SIGKILLs every task in the group until none is left, which
also catches processes that left the sandbox's process group or session.
Where cgroups are not writable, `SandboxCgroup.create` returns None and the
sandbox falls back to rlimits alone.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from pathlib import Path

CGROUP_V1_ROOT = Path("/sys/fs/cgroup")
#: Directory (inside each controller's group of the caller) holding one group per sandbox.
GROUP_PREFIX = "shopfloor-sandbox"
#: How many SIGKILL sweeps `kill()` makes before giving up on a group that keeps spawning.
KILL_SWEEPS = 50
#: Empty sandbox groups older than this are leftovers of a host killed with -9, and removed.
STALE_GROUP_AGE_S = 300.0


def own_group(controller: str) -> Path | None:
    """Where this process sits in a cgroup v1 hierarchy, if that hierarchy is mounted."""
    root = CGROUP_V1_ROOT / controller
    if not (root / "cgroup.procs").exists():
        return None
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            return root / path.lstrip("/")
    return None


def _read_counter(path: Path, key: str) -> int:
    """`key N` from a flat-keyed cgroup file (memory.oom_control, pids.events), 0 if absent."""
    with contextlib.suppress(OSError):
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    return 0


def _remove_stale(parent: Path) -> None:
    """rmdir empty sandbox groups left by hosts that died (the kernel refuses non-empty ones)."""
    cutoff = time.time() - STALE_GROUP_AGE_S
    for group in parent.glob(f"{GROUP_PREFIX}-*"):
        with contextlib.suppress(OSError):
            if group.stat().st_mtime < cutoff and not (group / "cgroup.procs").read_text().strip():
                group.rmdir()


class SandboxCgroup:
    """One sandbox's pids and memory groups."""

    def __init__(self, pids: Path, memory: Path | None) -> None:
        self.pids = pids
        self.memory = memory

    @classmethod
    def create(cls, *, max_processes: int, memory_bytes: int) -> SandboxCgroup | None:
        """New groups with the limits set, or None where cgroups cannot be written."""
        pids_parent = own_group("pids")
        if pids_parent is None:
            return None
        _remove_stale(pids_parent)
        name = f"{GROUP_PREFIX}-{uuid.uuid4().hex[:12]}"
        try:
            pids = pids_parent / name
            pids.mkdir()
        except OSError:
            return None
        (pids / "pids.max").write_text(str(max_processes))
        memory: Path | None = None
        memory_parent = own_group("memory")
        if memory_parent is not None:
            try:
                memory = memory_parent / name
                memory.mkdir()
                (memory / "memory.limit_in_bytes").write_text(str(memory_bytes))
                with contextlib.suppress(OSError):  # only present when swap accounting is on
                    (memory / "memory.memsw.limit_in_bytes").write_text(str(memory_bytes))
            except OSError:
                memory = None
        return cls(pids, memory)

    def tasks(self) -> list[int]:
        with contextlib.suppress(OSError):
            return [int(x) for x in (self.pids / "cgroup.procs").read_text().split()]
        return []

    def kill(self) -> None:
        """SIGKILL every task until the group is empty (a fork bomb may race the first sweeps)."""
        for _ in range(KILL_SWEEPS):
            tasks = self.tasks()
            if not tasks:
                return
            for pid in tasks:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.005)

    def oom_kills(self) -> int:
        """How many processes the kernel killed in this sandbox for exceeding the memory limit."""
        if self.memory is None:
            return 0
        return _read_counter(self.memory / "memory.oom_control", "oom_kill")

    def process_limit_hits(self) -> int:
        """How many forks or clones the process cap refused in this sandbox."""
        return _read_counter(self.pids / "pids.events", "max")

    def remove(self) -> None:
        """Kill what is left and delete the groups."""
        self.kill()
        for group in (self.pids, self.memory):
            if group is None:
                continue
            for _ in range(100):  # rmdir fails while the last tasks are still exiting
                try:
                    group.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.01)
