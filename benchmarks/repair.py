"""Repair-rate benchmark over benchmarks/repair_corpus: small single-defect programs.

The corpus was written for this benchmark, apart from the repair worker's own
tests. Each program has visible tests (the worker's fitness) and held-out tests
it never sees. Reports:
- repaired: the visible tests pass after the repair;
- correctly repaired: the held-out tests pass too (the patch generalizes);
- median time per repair, beside the median time of one visible-test run of
  the same program in the same sandbox (the unit the search spends), as a ratio.

Usage: python benchmarks/repair.py [--budget N] [--seed S] [--only NAME]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from shopfloor.sandbox.bwrap import SandboxedExecutionEnvironment
from shopfloor.workers.repair import RepairConfig, repair_project
from shopfloor.workers.repair.testrun import run_tests

CORPUS = Path(__file__).with_name("repair_corpus")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", default=None)
    args = parser.parse_args()

    programs = sorted(p for p in CORPUS.iterdir() if p.is_dir() and (args.only in (None, p.name)))
    rows, repair_times, test_times = [], [], []
    for program in programs:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp) / program.name
            shutil.copytree(program, work, ignore=shutil.ignore_patterns("heldout", "__pycache__"))
            with SandboxedExecutionEnvironment(work) as env:
                t0 = time.perf_counter()
                run_tests(env, ["tests"])
                test_times.append(time.perf_counter() - t0)
            result = repair_project(work, RepairConfig(seed=args.seed, candidate_budget=args.budget))
            shutil.copytree(program / "heldout", work / "heldout")
            held = None
            if result.repaired:
                with SandboxedExecutionEnvironment(work) as env:
                    held = run_tests(env, ["tests", "heldout"])
            correct = bool(held and held.all_passed)
            if result.repaired:
                repair_times.append(result.duration_s)
            rows.append((program.name, result.repaired, correct, result.candidates_evaluated,
                         result.duration_s, result.edits[0].description if result.edits else "-"))
            print(f"  {program.name:16} repaired={result.repaired!s:5} correct={correct!s:5} "
                  f"candidates={result.candidates_evaluated:4} {result.duration_s:6.1f}s  "
                  f"{rows[-1][5]}", flush=True)

    n = len(rows)
    repaired = sum(r[1] for r in rows)
    correct = sum(r[2] for r in rows)
    med_repair = statistics.median(repair_times) if repair_times else float("nan")
    med_test = statistics.median(test_times)
    print()
    print(f"programs                  {n}")
    print(f"repaired (visible pass)   {repaired}/{n} = {repaired / n:.0%}")
    print(f"correctly repaired        {correct}/{n} = {correct / n:.0%}  (held-out tests pass too)")
    print(f"median time per repair    {med_repair:.2f} s   vs one visible-test run {med_test:.2f} s"
          f"   ratio {med_repair / med_test:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
