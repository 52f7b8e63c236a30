"""Where a codergen backend's work runs: the bubblewrap sandbox (default) or this machine.

Both `agent` and `cli` backends take the same options:
  environment    = "sandbox" | "local"            (default "sandbox")
  workspace      = the project directory          (default: the current directory)
  workspace_mode = "direct" | "copy_on_write"     (default "direct")
  revision       = git revision for copy_on_write (default "HEAD")
"direct" works in the project directory itself. "copy_on_write" gives the run
its own workspace of the project at `revision` (shopfloor.sandbox.workspace);
every node of the run works there, and at the end of the run it is kept as a
candidate (`shopfloor sandbox workspace list`). The sandbox limits come from
`[sandbox]` in shopfloor.toml (SandboxPolicy).
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

from shopfloor.errors import UserError
from shopfloor.govern.policy import load_policy
from shopfloor.pipeline.context import Context
from shopfloor.pipeline.scope import WORKSPACE_DIR_KEY, RunScope
from shopfloor.sandbox.bwrap import SandboxedExecutionEnvironment
from shopfloor.sandbox.environment import ExecutionEnvironment, LocalExecutionEnvironment
from shopfloor.sandbox.policy import SandboxPolicy
from shopfloor.sandbox.workspace import METADATA_FILE, WorkspaceManager

ENVIRONMENT_KINDS = ("sandbox", "local")
DEFAULT_ENVIRONMENT_KIND = "sandbox"
WORKSPACE_MODES = ("direct", "copy_on_write")
DEFAULT_WORKSPACE_MODE = "direct"
DEFAULT_REVISION = "HEAD"


def workspace_dir(options: dict[str, Any]) -> Path:
    path = Path(str(options.get("workspace") or ".")).resolve()
    if not path.is_dir():
        raise UserError("workspace directory does not exist", where=str(path),
                        fix="create it or set the backend's `workspace` option to an existing directory")
    return path


def open_environment(scope: RunScope, options: dict[str, Any],
                     context: Context | None = None) -> ExecutionEnvironment:
    """An initialized environment; the run's resources stack cleans it up when the run ends.

    Without a `workspace` option the run's own workspace (`workspace.dir`, set by a
    `shopfloor.workspace` node) is used, so an agent never edits the project checkout
    when the pipeline made it a copy-on-write workspace; else the current directory.
    """
    if not options.get("workspace") and context is not None and context.get_string(WORKSPACE_DIR_KEY):
        options = {**options, "workspace": context.get_string(WORKSPACE_DIR_KEY)}
    kind = str(options.get("environment") or DEFAULT_ENVIRONMENT_KIND)
    if kind not in ENVIRONMENT_KINDS:
        raise UserError(f"unknown environment {kind!r}", where="codergen backend options",
                        fix=f"use one of: {', '.join(ENVIRONMENT_KINDS)}")
    workspace = workspace_dir(options)
    mode = str(options.get("workspace_mode") or DEFAULT_WORKSPACE_MODE)
    if mode not in WORKSPACE_MODES:
        raise UserError(f"unknown workspace_mode {mode!r}", where="codergen backend options",
                        fix=f"use one of: {', '.join(WORKSPACE_MODES)}")
    if mode == "copy_on_write":
        workspace = _run_workspace(scope, workspace, str(options.get("revision") or DEFAULT_REVISION))
    env: ExecutionEnvironment
    if kind == "local":
        env = LocalExecutionEnvironment(workspace)
    else:
        env = SandboxedExecutionEnvironment(workspace, _run_policy(scope, workspace))
    env.initialize()
    scope.resources.callback(env.cleanup)
    return env


class SharedEnvironment:
    """A backend's one environment for the run, opened by the first node that needs it.

    Parallel branches run nodes concurrently, so the opening is serialised.
    """

    def __init__(self, scope: RunScope, options: dict[str, Any]) -> None:
        self._scope = scope
        self._options = options
        self._env: ExecutionEnvironment | None = None
        self._lock = threading.Lock()

    def get(self, context: Context | None) -> ExecutionEnvironment:
        with self._lock:
            if self._env is None:
                self._env = open_environment(self._scope, self._options, context)
            return self._env


def _run_policy(scope: RunScope, workspace: Path) -> SandboxPolicy:
    """`[sandbox]`, plus read-only: `[policy] protected_paths` and the run's own records.

    The evaluator is out of the agent's reach: protected paths (scenarios, CI config, the
    factory's config, the project's own choices) are read-only in the filesystem itself,
    not only refused by the brake. The agent must not rewrite its run's events, checkpoint
    or the project's shopfloor.toml either; with the default `runs/<run-id>` layout the
    whole `runs/` directory is protected.
    """
    policy = SandboxPolicy.from_config(scope.config)
    logs = scope.logs_root.resolve()
    records = [logs.parent if logs.parent != workspace and logs.parent.is_relative_to(workspace) else logs]
    if scope.config.path is not None:
        records.append(scope.config.path.resolve())
    extra = [str(p) for p in records if p.is_relative_to(workspace) and p != workspace]
    protected = list(load_policy(scope.config).protected_paths)
    return policy.with_overrides(read_only_paths=[*policy.read_only_paths, *protected, *extra])


def _run_workspace(scope: RunScope, project: Path, revision: str) -> Path:
    """The run's copy-on-write workspace (the same one on resume), kept as a candidate when the run ends."""
    manager = WorkspaceManager()
    name = re.sub(r"[^A-Za-z0-9._-]", "-", f"run-{scope.run_id}")[:64]
    # A resumed run finds its workspace by name; no need to read every other workspace's metadata.
    resumed = (manager.workspaces / name / METADATA_FILE).exists()
    created = manager.get(name) if resumed else manager.create(project, revision, name=name)
    scope.emit("agent.workspace", {"name": created.name, "path": created.path, "revision": created.revision,
                                   "strategy": created.strategy})
    scope.resources.callback(manager.keep, created.name)
    return Path(created.path)
