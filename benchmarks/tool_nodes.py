"""What the sandbox costs a tool node: sandboxed tool nodes beside host tool nodes, same run.

    .venv/bin/python benchmarks/tool_nodes.py

A chain of TOOL_NODES tool nodes (`echo`, writing one file to the stage
directory) runs twice: with the pipeline layer's host tool handler (the
baseline) and through the composition root, where each node gets a fresh
bubblewrap sandbox that is torn down with it. Printed: milliseconds per node for
each and the ratio.
"""

from __future__ import annotations

import itertools
import sys
import tempfile
import time
from pathlib import Path

from shopfloor import assembly
from shopfloor.pipeline.graph import Edge, Graph, Node
from shopfloor.pipeline.interviewer import AutoApproveInterviewer
from shopfloor.pipeline.runner import RegistryFactory, core_registry_factory, start_run

TOOL_NODES = 20
COMMAND = 'echo built > "$SHOPFLOOR_STAGE_DIR/out.txt" && echo ok'


def chain(n: int) -> Graph:
    graph = Graph("tools", {"goal": "benchmark"})
    ids = ["start", *(f"t{i}" for i in range(n)), "done"]
    graph.nodes = {i: Node(i, {"shape": "parallelogram", "tool_command": COMMAND}) for i in ids}
    graph.nodes["start"].attrs = {"shape": "Mdiamond"}
    graph.nodes["done"].attrs = {"shape": "Msquare"}
    graph.edges = [Edge(a, b) for a, b in itertools.pairwise(ids)]
    return graph


def per_node_ms(root: Path, name: str, factory: RegistryFactory) -> float:
    started = time.perf_counter()
    result = start_run(chain(TOOL_NODES), logs_root=root / name, registry_factory=factory,
                       interviewer=AutoApproveInterviewer(), initial_context={"workspace.dir": str(root)})
    elapsed = time.perf_counter() - started
    if result.status != "success" or not (root / name / "t0" / "out.txt").exists():
        sys.exit(f"{name} run failed: {result.outcome.failure_reason}")
    return elapsed * 1000 / TOOL_NODES


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="shopfloor-bench-tools-") as tmp:
        root = Path(tmp)
        host = per_node_ms(root, "host", core_registry_factory(None))
        sandboxed = per_node_ms(root, "sandboxed", assembly.registry_factory("simulate"))
    print(f"tool node, {TOOL_NODES} in a chain: sandboxed {sandboxed:.1f} ms/node, "
          f"host (baseline) {host:.1f} ms/node, ratio {sandboxed / host:.1f}x")


if __name__ == "__main__":
    main()
