"""Per-node overhead of the pipeline engine, beside the cost of one fsync'd checkpoint-sized write.

    .venv/bin/python benchmarks/engine.py

Two pipelines run in simulate mode (the backend returns at once, so the time
is the engine's own: handler dispatch, prompt/response/status files, events,
the checkpoint): a 1,000-node linear chain and a 100-branch parallel fan-out.
The baseline, measured in the same run and on the same disk, is writing a
file the size of the average checkpoint of the linear run (temp file, fsync,
rename). Target: per-node overhead within 3x of that write.
"""

from __future__ import annotations

import itertools
import os
import statistics
import tempfile
import time
from pathlib import Path

from shopfloor.pipeline.events import CheckpointSaved, PipelineEvent
from shopfloor.pipeline.graph import Edge, Graph, Node
from shopfloor.pipeline.runner import run_pipeline
from shopfloor.workers.simulate import SimulateBackend

LINEAR_NODES = 1000
PARALLEL_BRANCHES = 100
BASELINE_WRITES = 200
TARGET_RATIO = 3.0


def linear_graph(n: int) -> Graph:
    graph = Graph("linear", {"goal": "benchmark"})
    ids = ["start", *(f"n{i}" for i in range(n)), "done"]
    graph.nodes = {i: Node(i, {"prompt": f"step {i}"}) for i in ids}
    graph.nodes["start"].attrs["shape"] = "Mdiamond"
    graph.nodes["done"].attrs["shape"] = "Msquare"
    graph.edges = [Edge(a, b) for a, b in itertools.pairwise(ids)]
    return graph


def parallel_graph(branches: int) -> Graph:
    graph = Graph("parallel", {"goal": "benchmark"})
    graph.nodes = {"start": Node("start", {"shape": "Mdiamond"}),
                   "fan": Node("fan", {"shape": "component", "max_parallel": 8}),
                   "join": Node("join", {"shape": "tripleoctagon"}),
                   "done": Node("done", {"shape": "Msquare"})}
    graph.edges = [Edge("start", "fan"), Edge("join", "done")]
    for i in range(branches):
        graph.nodes[f"b{i}"] = Node(f"b{i}", {"prompt": f"branch {i}"})
        graph.edges += [Edge("fan", f"b{i}"), Edge(f"b{i}", "join")]
    return graph


def timed_run(graph: Graph, root: Path) -> tuple[float, list[int]]:
    sizes: list[int] = []

    def sample(event: PipelineEvent) -> None:
        if isinstance(event, CheckpointSaved):
            sizes.append((root / "checkpoint.json").stat().st_size)

    started = time.perf_counter()
    result = run_pipeline(graph, logs_root=root, backend=SimulateBackend(), observers=[sample])
    elapsed = time.perf_counter() - started
    assert result.status == "success", result.outcome.failure_reason
    return elapsed, sizes


def fsynced_write(directory: Path, size: int, count: int) -> float:
    payload = b"x" * size
    target, tmp = directory / "baseline.json", directory / ".baseline.json.tmp"
    started = time.perf_counter()
    for _ in range(count):
        with open(tmp, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    return (time.perf_counter() - started) / count


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="shopfloor-bench-", dir=".") as tmp:
        base = Path(tmp)
        linear_s, sizes = timed_run(linear_graph(LINEAR_NODES), base / "linear")
        parallel_s, _ = timed_run(parallel_graph(PARALLEL_BRANCHES), base / "parallel")
        checkpoint_bytes = int(statistics.mean(sizes))
        baseline = fsynced_write(base, checkpoint_bytes, BASELINE_WRITES)
    linear_per_node = linear_s / (LINEAR_NODES + 2)
    parallel_per_node = parallel_s / (PARALLEL_BRANCHES + 4)
    print(f"baseline: one fsync'd write of {checkpoint_bytes} bytes (mean checkpoint size): "
          f"{baseline * 1e3:.3f} ms")
    for name, per_node in ((f"linear {LINEAR_NODES} nodes", linear_per_node),
                           (f"parallel {PARALLEL_BRANCHES} branches", parallel_per_node)):
        ratio = per_node / baseline
        verdict = "within" if ratio <= TARGET_RATIO else "OVER"
        print(f"{name:<24} per-node overhead {per_node * 1e3:.3f} ms = {ratio:.2f}x baseline "
              f"({verdict} the {TARGET_RATIO:g}x target)")


if __name__ == "__main__":
    main()
