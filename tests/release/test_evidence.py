"""What a gate records as a release's evidence comes from the run's validation nodes."""

from __future__ import annotations

from shopfloor.pipeline.context import Context
from shopfloor.release.evidence import evidence_from_context


def test_visible_tests_contracts_and_scenarios_become_evidence() -> None:
    context = Context({"tests.visible.passed": 13, "tests.visible.failed": 0, "tests.visible.total": 13,
                       "contracts.passed": True, "scenarios.satisfaction": 0.9167, "scenarios.hash": "ab12",
                       "scenarios.leaked": False})
    results, satisfaction = evidence_from_context(context)
    assert satisfaction == 0.9167
    assert [(r["name"], r["passed"]) for r in results] == [
        ("visible_tests", True), ("contracts", True), ("scenarios", True)]
    assert results[0]["detail"] == "13/13"


def test_failures_and_leaks_are_recorded_as_failed_evidence() -> None:
    context = Context({"tests.visible.passed": 3, "tests.visible.failed": 2, "tests.visible.total": 5,
                       "scenarios.satisfaction": 1.0, "scenarios.leaked": True})
    results, _ = evidence_from_context(context)
    assert {r["name"]: r["passed"] for r in results} == {"visible_tests": False, "scenarios": False}


def test_a_run_without_validation_has_no_evidence() -> None:
    assert evidence_from_context(Context({})) == ([], None)
