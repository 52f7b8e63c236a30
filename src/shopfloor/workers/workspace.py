"""Pipeline handler `type="shopfloor.workspace"`: a copy-on-write workspace for the run.

    workspace [type="shopfloor.workspace", project=".", revision="HEAD",
               subdir="examples/notifier/service"]

Creates a workspace of the git project at the revision (once per run: a resumed
run finds and reuses it, with whatever work was already done in it) and puts
its directory in the context as `workspace.dir` (the `subdir` inside the tree
when given), `workspace.name` and `workspace.revision`. Codergen backends work
there, and the release gate snapshots it (`release.workspace`). When the run
ends the workspace is discarded, unless the node says `keep="true"` or the run
was stopped (a stopped run is resumed with its workspace intact).
"""

from __future__ import annotations

import re
from pathlib import Path

from shopfloor.errors import UserError
from shopfloor.pipeline.context import Context
from shopfloor.pipeline.graph import Graph, Node
from shopfloor.pipeline.handler import HandlerRegistry
from shopfloor.pipeline.outcome import Outcome, StageStatus
from shopfloor.pipeline.scope import WORKSPACE_DIR_KEY, RunScope
from shopfloor.sandbox.workspace import Workspace, WorkspaceManager

HANDLER_TYPE = "shopfloor.workspace"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
#: Workspace names are limited to 64 characters by the workspace manager.
MAX_NAME_CHARS = 64


class WorkspaceHandler:
    def __init__(self, scope: RunScope, manager: WorkspaceManager | None = None) -> None:
        self.scope = scope
        self.manager = manager or WorkspaceManager()

    def _name(self, node: Node) -> str:
        return _UNSAFE.sub("-", f"run-{self.scope.run_id}-{node.id}")[:MAX_NAME_CHARS].rstrip("-.")

    def _open(self, node: Node) -> Workspace:
        name = self._name(node)
        if name in {w.name for w in self.manager.list()}:
            return self.manager.get(name)
        project = Path(node.str_attr("project", ".")).resolve()
        if not (project / ".git").exists():
            raise UserError("workspace project is not a git repository", where=f"node {node.id}: {project}",
                            fix="set project= to a git checkout (workspaces are made at a revision)")
        workspace = self.manager.create(project, node.str_attr("revision", "HEAD"), name=name)
        if node.str_attr("keep").lower() != "true":
            self.scope.resources.callback(self._discard_unless_stopped, name)
        return workspace

    def _discard_unless_stopped(self, name: str) -> None:
        if not self.scope.stop_requested.is_set():
            self.manager.discard(name)

    def execute(self, node: Node, context: Context, graph: Graph, logs_root: Path) -> Outcome:
        workspace = self._open(node)
        directory = Path(workspace.path) / node.str_attr("subdir")
        if not directory.is_dir():
            return Outcome(StageStatus.FAIL, failure_reason=f"{node.str_attr('subdir')!r} does not exist at "
                           f"revision {workspace.revision[:12]} of {workspace.project}")
        self.scope.emit("workspace.ready", {"node_id": node.id, "name": workspace.name, "dir": str(directory),
                                            "revision": workspace.revision, "strategy": workspace.strategy})
        return Outcome(StageStatus.SUCCESS, notes=f"workspace {workspace.name} at {workspace.revision[:12]}",
                       context_updates={WORKSPACE_DIR_KEY: str(directory), "workspace.name": workspace.name,
                                        "workspace.revision": workspace.revision,
                                        "release.workspace": str(directory)})


def register_handlers(registry: HandlerRegistry, scope: RunScope) -> None:
    registry.register(HANDLER_TYPE, WorkspaceHandler(scope))
