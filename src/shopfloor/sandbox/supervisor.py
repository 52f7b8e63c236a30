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

- supervisor → host: `ready` once listening;
- host → supervisor: `{"op": "exec", "id": N, "argv": [...], "cwd": ..., "env":
  {...}, "rlimits": [[resource, soft, hard], ...]}` with three pipe write ends
  attached as SCM_RIGHTS: the command's stdout, its stderr, and a status pipe
  on which the supervisor writes the exit status (negative for a signal, as
  subprocess reports it) when the command ends. If the supervisor dies the
  status pipe reads EOF, so the host never waits on a dead sandbox;
- host → supervisor: `{"op": "signal", "id": N, "sig": S}` signals command N's
  session and process group.

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
import selectors
import signal
import socket
import sys

import forward  # type: ignore[import-not-found]  # sibling file, on sys.path as the script's directory

_MAX_MESSAGE = 1 << 20
#: Exit status reported when the command could not even be forked (as a shell reports "cannot execute").
CANNOT_START_STATUS = 126
#: Kill sweeps over a finished command's session before giving up on stragglers.
KILL_SWEEPS = 100


class Supervisor:
    """One thread, one selector: the control socket plus a pidfd per running command."""

    def __init__(self, control: socket.socket) -> None:
        self.control = control
        #: command id -> (pid, write end of its status pipe)
        self.children: dict[int, tuple[int, int]] = {}
        self.selector = selectors.DefaultSelector()

    def serve(self) -> None:
        self.selector.register(self.control, selectors.EVENT_READ, None)
        self.control.send(b"ready")
        while self._step():
            pass
        for command_id in list(self.children):
            self.signal(command_id, signal.SIGKILL)

    def _step(self) -> bool:
        for key, _ in self.selector.select():
            if key.data is not None:  # a command's pidfd: it exited
                self.selector.unregister(key.fd)
                os.close(key.fd)
                self._reap(*key.data)
                continue
            try:
                data, fds, _, _ = socket.recv_fds(self.control, _MAX_MESSAGE, 3)
            except OSError:
                return False
            if not data:
                return False  # the host is gone
            request = json.loads(data)
            if request["op"] == "exec":
                self.start(request, fds)
            elif request["op"] == "signal":
                self.signal(request["id"], request["sig"])
        return True

    def start(self, request: dict, fds: list[int]) -> None:  # type: ignore[type-arg]
        try:
            pid = os.fork()
        except OSError as exc:  # e.g. the process cap, filled by processes that left their session
            with contextlib.suppress(OSError):
                os.write(fds[1], f"sandbox: cannot start the command: {exc.strerror}\n".encode())
                os.write(fds[2], str(CANNOT_START_STATUS).encode())
            for fd in fds:
                os.close(fd)
            return
        if pid == 0:
            self._exec_child(request, fds)
        os.close(fds[0])
        os.close(fds[1])
        self.children[request["id"]] = (pid, fds[2])
        self.selector.register(os.pidfd_open(pid), selectors.EVENT_READ, (request["id"], pid))

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
        _, status_fd = self.children.pop(command_id)
        with contextlib.suppress(OSError):
            os.write(status_fd, str(os.waitstatus_to_exitcode(status)).encode())
        os.close(status_fd)

    def signal(self, command_id: int, sig: int) -> None:
        """Signal the command's session: every process it started that did not leave it."""
        if command_id not in self.children:
            return
        pid = self.children[command_id][0]
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
