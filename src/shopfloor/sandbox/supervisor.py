"""The process that lives inside a sandbox and starts commands there on the host's request.

Starting a fresh bubblewrap sandbox costs ~10 ms of namespace and mount set-up,
more than most commands an agent runs. So each sandboxed environment starts
bubblewrap once, with this supervisor as its command, and the host asks it to
run each command: one posix_spawn inside namespaces that already exist.
Each command runs in its own session; when it ends (or times out) everything
left in that session is killed. A process that starts its own session
(`setsid`) outlives the command but not the sandbox.

Arguments: the control socket's fd, the commands' rlimits as JSON
(`[[resource, soft, hard], ...]`), the port-bridge directory, the allowed ports.

Protocol, over the control socket (SOCK_SEQPACKET), one JSON object per message:

- supervisor → host: `ready` once listening;
- host → supervisor: `{"op": "exec", "id": N, "argv": [...], "cwd": ..., "env":
  {...}}` with three pipe write ends
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
import errno
import json
import os
import resource
import selectors
import shutil
import signal
import socket
import sys

import forward  # type: ignore[import-not-found]  # sibling file, on sys.path as the script's directory

_MAX_MESSAGE = 1 << 20
#: Signals the supervisor (as a Python process) ignores but a command must get by default.
RESET_SIGNALS = (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGXCPU)
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
        """posix_spawn the command (vfork-fast; no Python runs in the child) in a new session."""
        out_fd, err_fd, status_fd = fds
        for fd in fds:  # received descriptors arrive inheritable; only dup2'd copies may pass
            os.set_inheritable(fd, False)
        argv, env = request["argv"], request["env"]
        try:
            os.chdir(request["cwd"])
            program = argv[0] if "/" in argv[0] else shutil.which(argv[0], path=env.get("PATH", os.defpath))
            if program is None:
                raise FileNotFoundError(2, "command not found")
            pid = os.posix_spawn(program, argv, env, setsid=True, setsigdef=RESET_SIGNALS, file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, out_fd, 1),
                (os.POSIX_SPAWN_DUP2, err_fd, 2),
            ])
        except OSError as exc:
            # Not found or not executable, as a shell reports it; anything else (the
            # process cap, filled by processes that left their session) cannot start.
            status = {errno.ENOENT: 127, errno.EACCES: 126}.get(exc.errno or 0, CANNOT_START_STATUS)
            with contextlib.suppress(OSError):
                os.write(err_fd, f"sandbox: cannot run {argv[0]}: {exc.strerror}\n".encode())
                os.write(status_fd, str(status).encode())
            for fd in fds:
                os.close(fd)
            return
        os.close(out_fd)
        os.close(err_fd)
        self.children[request["id"]] = (pid, status_fd)
        self.selector.register(os.pidfd_open(pid), selectors.EVENT_READ, (request["id"], pid))

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
    control.set_inheritable(False)
    # The commands' rlimits are set here once and inherited by every command. The
    # supervisor ignores SIGXCPU (commands get it back by RESET_SIGNALS); should it
    # ever use up the CPU limit itself it is killed and the host starts a new sandbox.
    signal.signal(signal.SIGXCPU, signal.SIG_IGN)
    for which, soft, hard in json.loads(args[1]):
        resource.setrlimit(which, (soft, hard))
    ports_dir, ports = args[2], [int(p) for p in args[3:]]
    if ports:
        forward.serve_inside(ports_dir, ports)
    Supervisor(control).serve()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
