"""Tool nodes run inside the bubblewrap sandbox: the `tool` type for real runs.

The pipeline's own tool handler runs `tool_command` on the host; agents' pipelines
run hostile code, so this plugin replaces the `tool` type with the same handler
(same contract: stdout.txt / stderr.txt in the stage directory, `tool.output`,
SHOPFLOOR_* variables, timeout and stop kill the whole tree, non-zero exit fails)
whose commands run in a `SandboxedExecutionEnvironment`:

- the working directory is `tool_cwd`, else the run's `workspace.dir` (set by a
  `shopfloor.workspace` node), else the current directory; it is the only
  writable host path;
- limits and openings come from `[sandbox]` in shopfloor.toml (`SandboxPolicy`);
  the interpreter running shopfloor (and its venv) and the run's logs root are
  re-exposed read-only when they sit under a hidden directory such as /root
  (the logs root stays read-only inside the workspace too),
  and the interpreter's directory goes first on PATH (`python` is shopfloor's:
  shims under a home directory are hidden);
- SHOPFLOOR_STAGE_DIR points at a private directory inside the sandbox
  (`SANDBOX_STAGE_DIR`); what the command leaves there is copied into the real
  stage directory afterwards, with links and special files refused;
- each node gets a fresh sandbox, torn down when the command ends, so nothing a
  command started in the background outlives its node.

`sandbox="false"` on a node runs that node on the host, as the pipeline layer would
(same working-directory default). `lint_rules()` checks the attribute's value.
"""

from __future__ import annotations

import os
import tarfile
import tempfile
import threading
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO

from shopfloor.pipeline.diagnostics import Diagnostic, Severity
from shopfloor.pipeline.executor import RunStopped
from shopfloor.pipeline.graph import Graph
from shopfloor.pipeline.handler import HandlerRegistry
from shopfloor.pipeline.handlers.tool import (
    POLL_INTERVAL_S,
    STDERR_FILE,
    STDOUT_FILE,
    HostToolRunner,
    ToolCall,
    ToolHandler,
)
from shopfloor.pipeline.lint_rules import FunctionRule, LintRule
from shopfloor.pipeline.scope import WORKSPACE_DIR_KEY, RunScope
from shopfloor.sandbox.bwrap import SandboxedExecutionEnvironment
from shopfloor.sandbox.environment import MAX_COMMAND_TIMEOUT_MS
from shopfloor.sandbox.policy import SandboxPolicy
from shopfloor.validate.toolchain import sandbox_path

HANDLER_TYPE = "tool"
#: Node attribute: "false" runs the node's command on the host instead of in the sandbox.
SANDBOX_ATTR = "sandbox"
#: The stage directory as the command sees it: on the sandbox's private /tmp.
SANDBOX_STAGE_DIR = "/tmp/shopfloor-stage"
#: The longest a sandboxed tool command may run; a longer node `timeout` is cut to this.
MAX_SANDBOXED_TIMEOUT_S = MAX_COMMAND_TIMEOUT_MS / 1000
#: Files the handler itself writes in the stage directory; a command's copies of them are not copied back.
_HANDLER_FILES = frozenset({STDOUT_FILE, STDERR_FILE})


def runs_sandboxed(value: object) -> bool:
    return str(value if value is not None else "true").strip().lower() != "false"


def node_policy(policy: SandboxPolicy, logs_root: Path) -> SandboxPolicy:
    """`policy` for one tool node: the run's records readable, and read-only.

    The sandbox hides home directories, where the logs root may live; records are
    not secrets, so they come back read-only (the interpreter and shopfloor's own
    code always are, see `sandbox.bwrap`). The logs root is also read-only when it
    lies inside the workspace (`runs/` in the project), so a command cannot forge
    the run's checkpoint or events.
    """
    records = str(logs_root.resolve())
    readable = [*policy.readable_paths, records]
    return policy.with_overrides(readable_paths=readable, read_only_paths=[*policy.read_only_paths, records])


class _StopWatch:
    """Calls `on_stop` (from a thread of its own) while the run is asked to stop.

    It keeps calling it every poll interval, so a sandbox started in a race with
    the stop request is killed too.
    """

    def __init__(self, stop: threading.Event, on_stop: Callable[[], None]) -> None:
        self.stop = stop
        self.on_stop = on_stop
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._watch, name="tool-stop-watch", daemon=True)

    def _watch(self) -> None:
        while not self.done.is_set():
            if self.stop.wait(POLL_INTERVAL_S):
                self.on_stop()
                self.done.wait(POLL_INTERVAL_S)

    def __enter__(self) -> _StopWatch:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join()


class SandboxedToolRunner:
    """Runs each tool command in a fresh bubblewrap sandbox over its working directory."""

    def __init__(self, stop_event: threading.Event, policy: SandboxPolicy) -> None:
        self.stop_event = stop_event
        self.policy = policy
        self.host = HostToolRunner(stop_event)

    def run(self, call: ToolCall, stdout: BinaryIO, stderr: BinaryIO) -> int:
        cwd = Path(call.cwd or call.context.get_string(WORKSPACE_DIR_KEY) or os.getcwd()).resolve()
        if not cwd.is_dir():
            raise FileNotFoundError(f"the tool's working directory does not exist: {cwd} "
                                    "(tool_cwd, else the run's workspace.dir, else the current directory)")
        if not runs_sandboxed(call.node.get(SANDBOX_ATTR)):
            return self.host.run(replace(call, cwd=str(cwd)), stdout, stderr)
        sandbox = SandboxedExecutionEnvironment(cwd, node_policy(self.policy, call.logs_root))
        timeout_ms = int(min(call.timeout_s, MAX_SANDBOXED_TIMEOUT_S) * 1000)
        env = {**sandbox_path(), **call.env, "SHOPFLOOR_STAGE_DIR": SANDBOX_STAGE_DIR}
        files = {"out": stdout, "err": stderr}

        def write_live(stream: str, chunk: bytes) -> None:  # as on the host: the files fill as it runs
            files[stream].write(chunk)
            files[stream].flush()

        try:
            with _StopWatch(self.stop_event, sandbox.cleanup):
                sandbox.initialize()
                sandbox.run(["mkdir", "-p", SANDBOX_STAGE_DIR])
                if self.stop_event.is_set():
                    raise RunStopped(call.node.id)
                result = sandbox.run(["/bin/sh", "-c", call.command], timeout_ms=timeout_ms, env_vars=env,
                                     sink=write_live)
                if self.stop_event.is_set():
                    raise RunStopped(call.node.id)
                self._copy_stage_dir(sandbox, call.stage_dir)  # partial output helps explain a failure too
                if result.limit == "timeout":
                    raise TimeoutError(f"tool command timed out after {timeout_ms / 1000:g}s: {call.command}")
                if result.limit is not None:  # say which limit killed it: the failure reason quotes stderr
                    stderr.write(f"\nshopfloor: {sandbox.limit_reason(result.limit, timeout_ms)}\n".encode())
        finally:
            sandbox.cleanup()
        return result.exit_code

    def _copy_stage_dir(self, sandbox: SandboxedExecutionEnvironment, stage_dir: Path) -> None:
        """Bring what the command left in its stage directory out; links and devices are refused."""
        with tempfile.TemporaryFile() as archive:
            packed = sandbox.run(["tar", "-C", SANDBOX_STAGE_DIR, "-cf", "-", "."],
                                 sink=lambda stream, chunk: archive.write(chunk) if stream == "out" else None)
            if packed.exit_code != 0:
                raise RuntimeError("could not copy the stage directory out of the sandbox: "
                                   + packed.stderr.strip())
            archive.seek(0)
            with tarfile.open(fileobj=archive) as tar:
                members = [m for m in tar.getmembers()
                           if (m.isfile() or m.isdir()) and os.path.normpath(m.name) not in _HANDLER_FILES]
                tar.extractall(stage_dir, members=members, filter="data")


def register_handlers(registry: HandlerRegistry, scope: RunScope) -> None:
    policy = SandboxPolicy.from_config(scope.config)
    registry.register(HANDLER_TYPE, ToolHandler(scope.stop_requested,
                                                runner=SandboxedToolRunner(scope.stop_requested, policy)))


def _sandbox_attribute(graph: Graph) -> Iterable[Diagnostic]:
    for node in graph.nodes.values():
        value = node.get(SANDBOX_ATTR)
        if value is not None and str(value).strip().lower() not in ("true", "false"):
            yield Diagnostic("tool_sandbox", Severity.ERROR,
                             f"{SANDBOX_ATTR} must be true or false, got {value!r}",
                             node_id=node.id, fix='write sandbox="false" to run this tool node on the host',
                             loc=node.attr_locs.get(SANDBOX_ATTR) or node.loc)


def lint_rules() -> list[LintRule]:
    return [FunctionRule("tool_sandbox", _sandbox_attribute)]
