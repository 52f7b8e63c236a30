"""What a handler can reach beyond its node: the run it belongs to.

Handlers that live in other layers (twins, validation, release) are built per
run from a RunScope: they can emit events, ask the interviewer, read the
project's shopfloor.toml, register cleanups that run when the run ends (for
example stopping twins) and notice an emergency stop.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shopfloor.config import ProjectFile

#: Context key holding the directory the run's candidate lives in (set by a `shopfloor.workspace` node);
#: codergen backends, tool nodes, tests, contracts, scenarios and the gate all work there.
WORKSPACE_DIR_KEY = "workspace.dir"


@dataclass
class RunScope:
    run_id: str
    logs_root: Path
    config: ProjectFile
    #: `pipeline.interviewer.Interviewer`; typed loosely to keep this module import-light.
    interviewer: Any
    emit: Callable[[str, dict[str, Any]], None]
    resources: ExitStack = field(default_factory=ExitStack)
    stop_requested: threading.Event = field(default_factory=threading.Event)
