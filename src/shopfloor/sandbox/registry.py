"""The registry of live sandboxes, so an emergency stop in another process can kill them.

Each running sandbox is one small JSON file in `<state dir>/sandboxes/`: the
bubblewrap pid, its start time (so a recycled pid is never killed by mistake)
and its cgroup paths. The file is written before the command can do anything
worth stopping and removed when the sandbox ends; a host killed with -9 leaves
a file behind, which `kill_all` cleans up.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from dataclasses import dataclass
from pathlib import Path

from shopfloor.sandbox.cgroups import SandboxCgroup
from shopfloor.sandbox.process import kill_group
from shopfloor.store import state_dir

REGISTRY_DIR = "sandboxes"


@dataclass(frozen=True)
class Entry:
    path: Path
    pid: int
    start_time: str
    cgroup: SandboxCgroup | None


def _start_time(pid: int) -> str | None:
    """Field 22 of /proc/<pid>/stat: distinguishes a process from a later one with the same pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def register(pid: int, cgroup: SandboxCgroup | None) -> Entry:
    directory = state_dir() / REGISTRY_DIR
    directory.mkdir(parents=True, exist_ok=True)
    entry = Entry(directory / f"{pid}.json", pid, _start_time(pid) or "", cgroup)
    data = {"pid": pid, "start_time": entry.start_time, "host_pid": os.getpid(),
            "pids_cgroup": str(cgroup.pids) if cgroup else None,
            "memory_cgroup": str(cgroup.memory) if cgroup and cgroup.memory else None}
    tmp = entry.path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(entry.path)
    return entry


def unregister(entry: Entry) -> None:
    entry.path.unlink(missing_ok=True)


def entries() -> list[Entry]:
    directory = state_dir() / REGISTRY_DIR
    out: list[Entry] = []
    for path in sorted(directory.glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        cgroup = None
        if data.get("pids_cgroup"):
            memory = data.get("memory_cgroup")
            cgroup = SandboxCgroup(Path(data["pids_cgroup"]), Path(memory) if memory else None)
        out.append(Entry(path, int(data["pid"]), str(data.get("start_time", "")), cgroup))
    return out


def kill_all() -> int:
    """SIGKILL every registered sandbox still alive; returns how many were alive."""
    killed = 0
    for entry in entries():
        alive = _start_time(entry.pid) == entry.start_time
        if alive:
            kill_group(entry.pid, signal.SIGKILL)
            killed += 1
        if entry.cgroup is not None and (alive or entry.cgroup.pids.exists()):
            entry.cgroup.kill()  # even with bubblewrap gone, something may still run in its group
        with contextlib.suppress(OSError):
            entry.path.unlink()
    return killed
