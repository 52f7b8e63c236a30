"""A run's budget on disk: `{logs_root}/budget.json`, so a stopped run resumes where it stood.

The file holds what each level (the run, each node) has spent and how long the
run has been working, rewritten atomically after every charge (a kill -9 loses
at most the charge in flight, never the file), plus limit overrides that
`shopfloor resume --budget-usd N` writes to raise the ceiling of a run that ran
out of budget.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shopfloor.errors import UserError
from shopfloor.pipeline.run_dir import write_json_atomic

BUDGET_FILE = "budget.json"


def load(logs_root: Path) -> dict[str, Any]:
    path = Path(logs_root) / BUDGET_FILE
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        raise UserError("the run's budget file is unreadable", where=str(path),
                        fix="restore it from a backup or delete it to start the budget from zero") from None
    return data if isinstance(data, dict) else {}


def save(logs_root: Path, data: dict[str, Any]) -> None:
    path = Path(logs_root) / BUDGET_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, data)


def raise_limits(logs_root: Path, **limits: float | None) -> dict[str, float]:
    """Record new run-level limits (usd, tokens, tool_calls, wall_clock_s) for the next resume."""
    chosen = {k: v for k, v in limits.items() if v is not None}
    for key, value in chosen.items():
        if value <= 0:
            raise UserError(f"--budget-{key.replace('_', '-')} must be positive, got {value:g}",
                            where="command line", fix="pass the new total budget for the run")
    data = load(logs_root)
    data["limits_override"] = {**data.get("limits_override", {}), **chosen}
    save(logs_root, data)
    return data["limits_override"]
