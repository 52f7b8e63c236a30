"""The Python toolchain commands see in a sandbox: `python` is the interpreter running shopfloor.

Home directories are hidden in a sandbox, so a `python` found through a user's
shims (pyenv, asdf) is not there; the interpreter that runs shopfloor is
re-exposed by the sandbox, and its directory goes first on PATH.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

#: PATH for sandboxed commands when the host has none.
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"


def sandbox_path() -> dict[str, str]:
    """{"PATH": ...} with the running interpreter's directory first."""
    return {"PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", DEFAULT_PATH)])}
