"""The repair worker on small real projects, run with real pytest subprocesses."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from shopfloor.sandbox.bwrap import SandboxedExecutionEnvironment
from shopfloor.sandbox.environment import LocalExecutionEnvironment
from shopfloor.workers.repair import RepairConfig, repair_project
from shopfloor.workers.repair.localize import localize
from shopfloor.workers.repair.mutate import mutants_at
from shopfloor.workers.repair.testrun import run_tests

PRICING = '''\
"""Order pricing."""


def discount(total):
    # Orders of 100 or more get 10% off.
    if total > 100:
        return total * 0.9
    return total


def shipping(weight):
    return 5 + weight * 2
'''

PRICING_TESTS = '''\
from pricing import discount, shipping


def test_small_order_pays_full_price():
    assert discount(50) == 50


def test_threshold_gets_discount():
    assert discount(100) == 90


def test_large_order_gets_discount():
    assert discount(200) == 180


def test_shipping_is_base_plus_weight():
    assert shipping(3) == 11
'''


def make_project(root: Path, source: str, tests: str, name: str = "pricing") -> Path:
    (root / "tests").mkdir(parents=True)
    (root / f"{name}.py").write_text(source)
    (root / "tests" / "test_it.py").write_text(tests)
    return root


def test_localization_ranks_the_defective_line_first(tmp_path: Path) -> None:
    project = make_project(tmp_path, PRICING, PRICING_TESTS)
    tests = RepairConfig(test_timeout_s=60).tests
    report, ranked = localize(LocalExecutionEnvironment(project), tests, ["pricing.py"])
    assert report.failed == {"tests.test_it.test_threshold_gets_discount"}
    # The failing test runs lines 6 and 8; line 7 (the discount) only runs for passing tests.
    assert {s.line for s in ranked[:2]} == {6, 8}
    assert 7 not in {s.line for s in ranked}
    assert all(0 < s.score <= 1 for s in ranked)


def test_mutants_edit_only_their_span_and_always_compile() -> None:
    muts = list(mutants_at("pricing.py", PRICING, 6, random.Random(0)))
    ops = {m.operator for m in muts}
    assert {"compare", "constant", "negate", "delete", "swap"} <= ops
    for m in muts:
        compile(m.source, "m", "exec")
        assert "# Orders of 100 or more get 10% off." in m.source
    fix = next(m for m in muts if m.operator == "compare" and "total >= 100" in m.source)
    changed = [(a, b) for a, b in zip(PRICING.splitlines(), fix.source.splitlines(), strict=True) if a != b]
    assert changed == [("    if total > 100:", "    if total >= 100:")]


def test_statement_operators_delete_swap_and_insert() -> None:
    src = "def f(xs):\n    out = []\n    xs = sorted(xs)\n    out.append(xs[0])\n    return out\n"
    muts = list(mutants_at("m.py", src, 3, random.Random(0)))
    assert any(m.operator == "delete" and "    pass\n" in m.source for m in muts)
    swap = next(m for m in muts if m.operator == "swap")
    assert swap.source.index("out.append") < swap.source.index("xs = sorted")
    assert any(m.operator == "insert" and m.source.count("out = []") == 2 for m in muts)


def test_repairs_two_defects_one_after_the_other(tmp_path: Path) -> None:
    source = PRICING.replace("5 + weight * 2", "5 - weight * 2")
    project = make_project(tmp_path, source, PRICING_TESTS)
    result = repair_project(project, RepairConfig(workers=2, seed=1))
    assert result.repaired, result.summary()
    assert len(result.edits) == 2
    assert result.initial.total == 4 and len(result.initial.passed) == 2
    fixed = (project / "pricing.py").read_text()
    assert "5 + weight * 2" in fixed and "total >= 100" in fixed
    assert "-    if total > 100:" in result.patch and "+    if total >= 100:" in result.patch


def test_same_seed_gives_the_same_repair(tmp_path: Path) -> None:
    source = "def add(a, b):\n    return a - b\n"
    tests = "from pricing import add\n\ndef test_add():\n    assert add(2, 3) == 5\n"
    patches = []
    for i in range(2):
        project = make_project(tmp_path / str(i), source, tests)
        patches.append(repair_project(project, RepairConfig(workers=2, seed=7)).patch)
    assert patches[0] == patches[1] != ""
    assert "+    return a + b" in patches[0]


def test_budget_is_respected_and_an_unrepairable_project_is_left_untouched(tmp_path: Path) -> None:
    source = "def greet(name):\n    return 'hi'\n"
    tests = ("from pricing import greet\n\n"
             "def test_greets_by_name():\n    assert greet('ada') == 'hello, ada'\n")
    project = make_project(tmp_path, source, tests)
    result = repair_project(project, RepairConfig(workers=1, candidate_budget=3))
    assert not result.repaired
    assert result.candidates_evaluated <= 3
    assert (project / "pricing.py").read_text() == source
    assert result.patch == ""


def test_a_hanging_test_run_is_killed_at_the_timeout(tmp_path: Path) -> None:
    tests = "import time\n\ndef test_hangs():\n    time.sleep(3600)\n"
    project = make_project(tmp_path, "", tests)
    started = time.monotonic()
    with SandboxedExecutionEnvironment(project) as env:
        report = run_tests(env, ["tests"], timeout_s=2)
    assert report.broken == "timed out after 2s"
    assert time.monotonic() - started < 30
    assert not report.all_passed


@pytest.mark.parametrize("args", [["tests"], ["tests/test_it.py"]])
def test_default_sources_exclude_tests(tmp_path: Path, args: list[str]) -> None:
    from shopfloor.workers.repair.search import default_sources

    project = make_project(tmp_path, PRICING, PRICING_TESTS)
    (project / "conftest.py").write_text("")
    assert default_sources(project, args) == ["pricing.py"]


def test_a_patch_rejected_downstream_is_never_offered_again(tmp_path: Path) -> None:
    from shopfloor.workers.repair.search import patch_digest

    source = "def at_least(value, threshold):\n    return value >= threshold + 1\n"
    tests = ("from pricing import at_least\n\ndef test_at_threshold():\n    assert at_least(3, 3)\n\n"
             "def test_far_below():\n    assert not at_least(0, 3)\n")
    first = repair_project(make_project(tmp_path / "a", source, tests), RepairConfig(workers=2))
    assert first.repaired and "threshold - 1" in first.patch  # passes the visible tests, but overfits
    second = repair_project(make_project(tmp_path / "b", source, tests),
                            RepairConfig(workers=2, excluded_patches=[patch_digest(first.patch)]))
    assert second.repaired
    assert second.patch != first.patch and "threshold - 1" not in second.patch
