"""Import layering: the import-linter contracts the project declares, checked with `lint-imports`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from shopfloor.validate.contracts.config import LayersContract
from shopfloor.validate.contracts.result import ContractResult, Violation

#: Seconds `lint-imports` may run.
DEFAULT_LINT_TIMEOUT_S = 120.0


def check_layers(project: Path, contract: LayersContract) -> ContractResult:
    """Run import-linter on the project (static analysis: the project's code is not executed)."""
    argv = [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"]
    if contract.config:
        argv += ["--config", contract.config]
    paths = [str(project / "src"), str(project)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    proc = subprocess.run(
        argv, cwd=project, env=env, capture_output=True, text=True, timeout=DEFAULT_LINT_TIMEOUT_S
    )
    output = proc.stdout + proc.stderr
    kept = [line for line in output.splitlines() if "KEPT" in line]
    broken = [line.strip() for line in output.splitlines() if "BROKEN" in line]
    chains = [line.strip() for line in output.splitlines() if " -> " in line]
    if proc.returncode == 0:
        return ContractResult("layers", True, f"{len(kept)} import-linter contract(s) kept")
    if not broken:  # import-linter itself failed: no config, unknown package, ...
        tail = output.strip().splitlines()[-1:] or ["no output"]
        return ContractResult(
            "layers",
            False,
            f"lint-imports could not check the project: {tail[0]}",
            [Violation("import-linter", tail[0])],
        )
    violations = [Violation(b.replace(" BROKEN", ""), "contract broken") for b in broken]
    violations += [Violation("import chain", chain) for chain in chains]
    return ContractResult(
        "layers", False, f"{len(broken)} of {len(broken) + len(kept)} contract(s) broken", violations
    )
