"""Where a codergen backend's work runs: the bubblewrap sandbox (default) or this machine.

Both `agent` and `cli` backends take the same options:
  environment = "sandbox" | "local"   (default "sandbox")
  workspace   = directory the work happens in (default: the current directory)
and the sandbox limits come from `[sandbox]` in shopfloor.toml (SandboxPolicy).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shopfloor.errors import UserError
from shopfloor.pipeline.scope import RunScope
from shopfloor.sandbox.bwrap import SandboxedExecutionEnvironment
from shopfloor.sandbox.environment import ExecutionEnvironment, LocalExecutionEnvironment
from shopfloor.sandbox.policy import SandboxPolicy

ENVIRONMENT_KINDS = ("sandbox", "local")
DEFAULT_ENVIRONMENT_KIND = "sandbox"


def workspace_dir(options: dict[str, Any]) -> Path:
    path = Path(str(options.get("workspace") or ".")).resolve()
    if not path.is_dir():
        raise UserError("workspace directory does not exist", where=str(path),
                        fix="create it or set the backend's `workspace` option to an existing directory")
    return path


def open_environment(scope: RunScope, options: dict[str, Any]) -> ExecutionEnvironment:
    """An initialized environment; the run's resources stack cleans it up when the run ends."""
    kind = str(options.get("environment") or DEFAULT_ENVIRONMENT_KIND)
    if kind not in ENVIRONMENT_KINDS:
        raise UserError(f"unknown environment {kind!r}", where="codergen backend options",
                        fix=f"use one of: {', '.join(ENVIRONMENT_KINDS)}")
    workspace = workspace_dir(options)
    env: ExecutionEnvironment
    if kind == "local":
        env = LocalExecutionEnvironment(workspace)
    else:
        env = SandboxedExecutionEnvironment(workspace, SandboxPolicy.from_config(scope.config))
    env.initialize()
    scope.resources.callback(env.cleanup)
    return env
