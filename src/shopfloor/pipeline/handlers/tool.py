"""The tool handler (attractor-spec 4.10): run `tool_command` as a real shell subprocess.

stdout and stderr go to files in the stage directory (so output of any size is
kept); the context gets the start of stdout under `tool.output`, and the full
stdout is also stored as an artifact when it is larger than that. A non-zero
exit fails the node. The command is killed (its whole process group) when the
node's `timeout` passes or the run is asked to stop.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

from shopfloor.pipeline.artifacts import ArtifactStore
from shopfloor.pipeline.context import Context
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


class ToolHandler:
    handles_timeout = True  # kills its process group itself

    def __init__(self, stop_event: threading.Event, default_timeout_s: float = DEFAULT_TOOL_TIMEOUT_S,
                 output_context_chars: int = DEFAULT_TOOL_OUTPUT_CONTEXT_CHARS) -> None:
        self.stop_event = stop_event
        self.default_timeout_s = default_timeout_s
        self.output_context_chars = output_context_chars

    def execute(self, node: Node, context: Context, graph: Graph, logs_root: Path) -> Outcome:
        command = node.str_attr("tool_command")
        if not command:
            return Outcome(StageStatus.FAIL, failure_reason="No tool_command specified")
        timeout = as_seconds(node.get("timeout")) or self.default_timeout_s
        stage_dir = logs_root / node.id
        stage_dir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, SHOPFLOOR_RUN_ID=context.get_string("internal.run_id"),
                   SHOPFLOOR_LOGS_ROOT=str(logs_root), SHOPFLOOR_NODE_ID=node.id,
                   SHOPFLOOR_STAGE_DIR=str(stage_dir), SHOPFLOOR_GOAL=graph.goal)
        cwd = node.str_attr("tool_cwd") or None
        with open(stage_dir / STDOUT_FILE, "wb") as out, open(stage_dir / STDERR_FILE, "wb") as err:
            proc = subprocess.Popen(["/bin/sh", "-c", command], stdout=out, stderr=err,
                                    stdin=subprocess.DEVNULL, cwd=cwd, env=env, start_new_session=True)
            deadline = time.monotonic() + timeout
            while True:
                try:
                    code = proc.wait(POLL_INTERVAL_S)
                    break
                except subprocess.TimeoutExpired:
                    pass
                if self.stop_event.is_set():
                    _kill_group(proc)
                    raise RunStopped(node.id)
                if time.monotonic() >= deadline:
                    _kill_group(proc)
                    raise TimeoutError(f"tool command timed out after {timeout:g}s: {command}")
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
