"""The tool handler (attractor-spec 4.10): run `tool_command` as a real shell subprocess.

stdout and stderr go to files in the stage directory (so output of any size is
kept); the context gets the start of stdout under `tool.output`, and the full
stdout is also stored as an artifact when it is larger than that. A non-zero
exit fails the node. The command is killed (its whole process group) when the
node's `timeout` passes or the run is asked to stop.

Where the command runs is a `ToolRunner`: `HostToolRunner` (this machine, the
default of this layer) or one a plugin injects (`shopfloor.workers.sandboxed_tool`
runs it inside the bubblewrap sandbox). Everything around the execution (the
contract above) stays here, so every runner keeps it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from shopfloor.pipeline.artifacts import ArtifactStore
from shopfloor.pipeline.context import Context
from shopfloor.pipeline.engine import RUN_ID_KEY
from shopfloor.pipeline.executor import RunStopped
from shopfloor.pipeline.graph import Graph, Node
from shopfloor.pipeline.node_attrs import as_seconds
from shopfloor.pipeline.outcome import Outcome, StageStatus

#: A tool node without `timeout` is killed after this many seconds.
DEFAULT_TOOL_TIMEOUT_S = 600.0
#: Characters of stdout copied into the context as `tool.output`.
DEFAULT_TOOL_OUTPUT_CONTEXT_CHARS = 4096
#: Characters of stderr quoted in the failure reason.
DEFAULT_STDERR_TAIL_CHARS = 500
#: How often the wait checks for a stop request.
POLL_INTERVAL_S = 0.05
#: Grace between SIGTERM and SIGKILL when killing a command.
KILL_GRACE_S = 2.0

STDOUT_FILE, STDERR_FILE = "stdout.txt", "stderr.txt"


@dataclass(frozen=True)
class ToolCall:
    """One tool command, as the handler hands it to a runner."""

    node: Node
    context: Context
    command: str
    #: `tool_cwd` as written on the node ("" when unset).
    cwd: str
    #: The SHOPFLOOR_* variables the command gets on top of the runner's environment.
    env: dict[str, str]
    logs_root: Path
    stage_dir: Path
    timeout_s: float


class ToolRunner(Protocol):
    def run(self, call: ToolCall, stdout: BinaryIO, stderr: BinaryIO) -> int:
        """Run the command, writing its output to the two files; return its exit code.

        Raise `RunStopped` when the run is asked to stop and `TimeoutError` when
        `call.timeout_s` passes, after killing everything the command started.
        """
        ...


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(KILL_GRACE_S)
            return
        except subprocess.TimeoutExpired:
            continue


class HostToolRunner:
    """Runs the command on this machine with /bin/sh -c, in its own process group."""

    def __init__(self, stop_event: threading.Event) -> None:
        self.stop_event = stop_event

    def run(self, call: ToolCall, stdout: BinaryIO, stderr: BinaryIO) -> int:
        proc = subprocess.Popen(["/bin/sh", "-c", call.command], stdout=stdout, stderr=stderr,
                                stdin=subprocess.DEVNULL, cwd=call.cwd or None,
                                env=dict(os.environ, **call.env), start_new_session=True)
        deadline = time.monotonic() + call.timeout_s
        while True:
            try:
                return proc.wait(POLL_INTERVAL_S)
            except subprocess.TimeoutExpired:
                pass
            if self.stop_event.is_set():
                _kill_group(proc)
                raise RunStopped(call.node.id)
            if time.monotonic() >= deadline:
                _kill_group(proc)
                raise TimeoutError(f"tool command timed out after {call.timeout_s:g}s: {call.command}")


class ToolHandler:
    handles_timeout = True  # its runner kills the command's whole tree itself

    def __init__(self, stop_event: threading.Event, default_timeout_s: float = DEFAULT_TOOL_TIMEOUT_S,
                 output_context_chars: int = DEFAULT_TOOL_OUTPUT_CONTEXT_CHARS, *,
                 runner: ToolRunner | None = None) -> None:
        self.stop_event = stop_event
        self.default_timeout_s = default_timeout_s
        self.output_context_chars = output_context_chars
        self.runner: ToolRunner = runner or HostToolRunner(stop_event)

    def execute(self, node: Node, context: Context, graph: Graph, logs_root: Path) -> Outcome:
        command = node.str_attr("tool_command")
        if not command:
            return Outcome(StageStatus.FAIL, failure_reason="No tool_command specified")
        stage_dir = logs_root / node.id
        stage_dir.mkdir(parents=True, exist_ok=True)
        env = {"SHOPFLOOR_RUN_ID": context.get_string(RUN_ID_KEY),
               "SHOPFLOOR_LOGS_ROOT": str(logs_root), "SHOPFLOOR_NODE_ID": node.id,
               "SHOPFLOOR_STAGE_DIR": str(stage_dir), "SHOPFLOOR_GOAL": graph.goal}
        call = ToolCall(node=node, context=context, command=command, cwd=node.str_attr("tool_cwd"), env=env,
                        logs_root=logs_root, stage_dir=stage_dir,
                        timeout_s=as_seconds(node.get("timeout")) or self.default_timeout_s)
        with open(stage_dir / STDOUT_FILE, "wb") as out, open(stage_dir / STDERR_FILE, "wb") as err:
            code = self.runner.run(call, out, err)
        stdout = (stage_dir / STDOUT_FILE).read_text(errors="replace")
        updates: dict[str, object] = {"tool.output": stdout[:self.output_context_chars],
                                      "tool.exit_code": code}
        if len(stdout) > self.output_context_chars:
            info = ArtifactStore(logs_root).store(f"{node.id}.stdout", f"stdout of {node.id}", stdout)
            updates["tool.output_artifact"] = info.id
        if code != 0:
            stderr = (stage_dir / STDERR_FILE).read_text(errors="replace")[-DEFAULT_STDERR_TAIL_CHARS:]
            reason = f"tool command exited with {code}" + (f": {stderr.strip()}" if stderr.strip() else "")
            return Outcome(StageStatus.FAIL, context_updates=updates, failure_reason=reason)
        return Outcome(StageStatus.SUCCESS, context_updates=updates, notes=f"Tool completed: {command}")
