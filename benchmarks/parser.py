"""How long shopfloor takes to read a large pipeline before running it.

Measures parse, and prepare (parse + transforms + all lint rules), of a
generated 1,000-node pipeline with attributes, conditions and a stylesheet.
Baseline, measured in the same run: `json.loads` of the same graph as the JSON
AST (`Graph.to_dict()`), i.e. reading the same information from the fastest
format Python has. Run: .venv/bin/python benchmarks/parser.py
"""

from __future__ import annotations

import itertools
import json
import statistics
import time
from collections.abc import Callable

from shopfloor.pipeline.parser import parse_dot
from shopfloor.pipeline.prepare import Preparer

NODES = 1000
REPEATS = 7


def pipeline(nodes: int) -> str:
    lines = ["digraph Big {",
             '  graph [goal="benchmark", model_stylesheet="* { llm_model: m; } .hot { llm_model: h; }"]',
             "  node [timeout=900s]",
             "  start [shape=Mdiamond]", "  exit [shape=Msquare]"]
    for i in range(nodes):
        cls = ', class="hot"' if i % 10 == 0 else ""
        lines.append(f'  n{i} [label="Step {i}", prompt="Do step {i} of $goal", max_retries=2{cls}]')
    chain = ["start", *(f"n{i}" for i in range(nodes)), "exit"]
    for a, b in itertools.pairwise(chain):
        lines.append(f'  {a} -> {b} [condition="outcome=success && context.step!=skip", weight=1]')
    lines.append("}")
    return "\n".join(lines) + "\n"


def best(fn: Callable[[], object]) -> tuple[float, float]:
    """(fastest, median) of REPEATS runs, in milliseconds."""
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times) * 1000, statistics.median(times) * 1000


def main() -> None:
    source = pipeline(NODES)
    as_json = json.dumps(parse_dot(source).to_dict())
    preparer = Preparer()
    assert not [d for d in preparer.check(source).diagnostics if d.severity.value == "error"]
    base_min, base_med = best(lambda: json.loads(as_json))
    parse_min, parse_med = best(lambda: parse_dot(source))
    prep_min, prep_med = best(lambda: preparer.check(source))
    print(f"pipeline: {NODES} nodes, {NODES + 1} edges, {len(source) // 1024} KiB of DOT")
    print(f"baseline json.loads of the same AST : {base_min:8.2f} ms (median {base_med:.2f})")
    print(f"parse_dot                           : {parse_min:8.2f} ms (median {parse_med:.2f})"
          f"  = {parse_min / base_min:5.1f}x baseline")
    print(f"prepare (parse+transforms+lint)     : {prep_min:8.2f} ms (median {prep_med:.2f})"
          f"  = {prep_min / base_min:5.1f}x baseline")


if __name__ == "__main__":
    main()
