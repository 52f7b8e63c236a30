"""A candidate's evidence, read from the run that validated it.

A gate inside a pipeline snapshots the workspace the run validated; the
release's manifest then carries what the run found: the visible tests, the
contracts and the sealed scenarios (with their satisfaction). The gate judges
the release on exactly that.
"""

from __future__ import annotations

from typing import Any

from shopfloor.pipeline.context import Context


def evidence_from_context(context: Context) -> tuple[list[dict[str, Any]], float | None]:
    """(validation results, satisfaction) from the context keys the validation nodes set."""
    results: list[dict[str, Any]] = []
    if context.get("tests.visible.total") is not None:
        failed = int(context.get("tests.visible.failed") or 0)
        passed, total = context.get("tests.visible.passed"), context.get("tests.visible.total")
        results.append({"name": "visible_tests", "passed": failed == 0, "detail": f"{passed}/{total}"})
    if context.get("contracts.passed") is not None:
        results.append({"name": "contracts", "passed": bool(context.get("contracts.passed"))})
    satisfaction = context.get("scenarios.satisfaction")
    if satisfaction is not None:
        scenario_set = context.get("scenarios.hash")
        results.append({"name": "scenarios", "passed": not context.get("scenarios.leaked"),
                        "detail": f"satisfaction {satisfaction}, scenario set {scenario_set}"})
    return results, (float(satisfaction) if satisfaction is not None else None)
