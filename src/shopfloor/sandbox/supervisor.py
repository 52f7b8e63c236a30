"""The process that lives inside a sandbox and starts commands there on the host's request.

Starting a fresh bubblewrap sandbox costs ~10 ms of namespace and mount set-up,
more than most commands an agent runs. So each sandboxed environment starts
bubblewrap once, with this supervisor as its command, and the host asks it to
run each command: one fork and exec inside namespaces that already exist.
Each command runs in its own session; when it ends (or times out) everything
left in that session is killed. A process that starts its own session
(`setsid`) outlives the command but not the sandbox.

Protocol, over a SOCK_SEQPACKET Unix socket inherited as fd `argv[1]`, one
JSON object per message:

- supervisor → host: `{"event": "ready"}` once listening;
  `{"event": "exit", "id": N, "status": S}` when command N ends (S negative
  for a signal, as subprocess reports it);
- host → supervisor: `{"op": "exec", "id": N, "argv": [...], "cwd": ..., "env":
  {...}, "rlimits": [[resource, soft, hard], ...]}` with the command's stdout and
  stderr pipe ends attached as SCM_RIGHTS; `{"op": "signal", "id": N, "sig": S}`
  signals command N's session and process group.

The supervisor holds nothing the commands lack (same uid, same namespaces):
hostile code that kills or impersonates it only ends its own sandbox. When the
host end closes, it exits, and bubblewrap tears down the PID namespace with
every process in it. Standard library only: it runs outside the shopfloor package.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import socket
import sys
import threading

import forward  # type: ignore[import-not-found]  # sibling file, on sys.path as the script's directory

_MAX_MESSAGE = 1 << 20
#: Kill sweeps over a finished command's session before giving up on stragglers.
KILL_SWEEPS = 100


class Supervisor:
    def __init__(self, control: socket.socket) -> None:
        self.control = control
        self.children: dict[int, int] = {}
        self._send_lock = threading.Lock()

    def send(self, message: dict[str, object]) -> None:
        with self._send_lock, contextlib.suppress(OSError):
            self.control.send(json.dumps(message).encode())

    def serve(self) -> None:
        self.send({"event": "ready"})
        while True:
            try:
                data, fds, _, _ = socket.recv_fds(self.control, _MAX_MESSAGE, 2)
            except OSError:
                break
            if not data:
                break  # the host is gone
            request = json.loads(data)
            if request["op"] == "exec":
                self.start(request, fds)
            elif request["op"] == "signal":
                self.signal(request["id"], request["sig"])
        for command_id in list(self.children):
            self.signal(command_id, signal.SIGKILL)

    def start(self, request: dict, fds: list[int]) -> None:  # type: ignore[type-arg]
        pid = os.fork()
        if pid == 0:
            self._exec_child(request, fds)
        for fd in fds:
            os.close(fd)
        self.children[request["id"]] = pid
        threading.Thread(target=self._reap, args=(request["id"], pid), daemon=True).start()

    def _exec_child(self, request: dict, fds: list[int]) -> None:  # type: ignore[type-arg]
        """In the forked child: own session, pipes on 1 and 2, limits, then exec. Never returns."""
        try:
            for sig in (signal.SIGPIPE, signal.SIGXFSZ):  # Python ignores these; commands must not
                signal.signal(sig, signal.SIG_DFL)
            os.setsid()
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            os.dup2(fds[0], 1)
            os.dup2(fds[1], 2)
            os.closerange(3, 65536)
            for which, soft, hard in request["rlimits"]:
                resource.setrlimit(which, (soft, hard))
            os.chdir(request["cwd"])
            argv = request["argv"]
            os.execvpe(argv[0], argv, request["env"])
        except OSError as exc:
            os.write(2, f"sandbox: cannot run {request['argv'][0]}: {exc.strerror}\n".encode())
            os._exit(127)
        finally:
            os._exit(127)

    def _reap(self, command_id: int, pid: int) -> None:
        _, status = os.waitpid(pid, 0)
        # The command is over, so is everything it left running in its session (a fork bomb,
        # a forgotten server). Sweep until nothing is left: members may be forking meanwhile.
        for _ in range(KILL_SWEEPS):
            members = _session_members(pid)
            if not members:
                break
            for member in members:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(member, signal.SIGKILL)
        self.children.pop(command_id, None)
        self.send({"event": "exit", "id": command_id, "status": os.waitstatus_to_exitcode(status)})

    def signal(self, command_id: int, sig: int) -> None:
        """Signal the command's session: every process it started that did not leave it."""
        pid = self.children.get(command_id)
        if pid is None:
            return
        for other in [pid, *_session_members(pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(other, sig)


def _session_members(sid: int) -> list[int]:
    """Live processes in session `sid` or process group `sid` (zombies excluded)."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and sid in (int(fields[2]), int(fields[3])):  # its group or session
            members.append(int(entry))
    return members


def main(args: list[str]) -> int:
    control = socket.socket(fileno=int(args[0]))
    ports_dir, ports = args[1], [int(p) for p in args[2:]]
    if ports:
        forward.serve_inside(ports_dir, ports)
    Supervisor(control).serve()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
