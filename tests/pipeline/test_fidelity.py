"""attractor-spec 5.4: fidelity resolution, thread keys and the preamble carried into fresh sessions."""

from __future__ import annotations

from pathlib import Path

from shopfloor.pipeline.context import Context
from shopfloor.pipeline.fidelity import PREAMBLE_CHAR_BUDGET, preamble, resolve_fidelity, resolve_thread
from shopfloor.pipeline.graph import Edge, Graph, Node
from shopfloor.pipeline.runner import run_pipeline
from tests.support.pipeline_runs import load


def test_fidelity_precedence_edge_node_graph_default() -> None:
    node, graph = Node("n", {"fidelity": "truncate"}), Graph("g", {"default_fidelity": "summary:low"})
    assert resolve_fidelity(Edge("a", "n", {"fidelity": "full"}), node, graph) == "full"
    assert resolve_fidelity(Edge("a", "n"), node, graph) == "truncate"
    assert resolve_fidelity(None, Node("n"), graph) == "summary:low"
    assert resolve_fidelity(None, Node("n"), Graph("g")) == "compact"
    assert resolve_fidelity(None, Node("n", {"fidelity": "everything"}), graph) == "summary:low"


def test_thread_resolution_order() -> None:
    graph = Graph("g", {"thread_id": "graph-thread"})
    assert (
        resolve_thread(Edge("a", "n", {"thread_id": "e"}), Node("n", {"thread_id": "n"}), graph, "prev")
        == "n"
    )
    assert resolve_thread(Edge("a", "n", {"thread_id": "e"}), Node("n"), graph, "prev") == "e"
    assert resolve_thread(None, Node("n"), graph, "prev") == "graph-thread"
    assert resolve_thread(None, Node("n", {"class": "loop-a,x"}), Graph("g"), "prev") == "loop-a"
    assert resolve_thread(None, Node("n"), Graph("g"), "prev") == "prev"


def test_preamble_levels_carry_more_as_fidelity_rises() -> None:
    completed = [f"s{i}" for i in range(60)]
    outcomes = dict.fromkeys(completed, "success")
    ctx = {"context.big": "y" * 500, "outcome": "success", "internal.step": 3}
    kwargs = {"goal": "G", "run_id": "R", "completed": completed, "outcomes": outcomes, "context": ctx}
    assert preamble("full", **kwargs) == ""
    truncate = preamble("truncate", **kwargs)
    assert truncate == "Goal: G\nRun: R"
    low, high = preamble("summary:low", **kwargs), preamble("summary:high", **kwargs)
    assert "s59" in low and "s50" not in low and "context.big" not in low
    assert "s20" in high and "context.big" in high and "internal.step" not in high
    for mode, budget in PREAMBLE_CHAR_BUDGET.items():
        assert len(preamble(mode, **kwargs)) <= budget


def test_codergen_prompt_carries_the_preamble_unless_full(tmp_path: Path) -> None:
    graph = load("engine_linear")
    graph.nodes["publish"].attrs["fidelity"] = "full"
    run_pipeline(graph, logs_root=tmp_path / "r")
    polish = (tmp_path / "r" / "polish" / "prompt.md").read_text()
    assert polish.startswith("Goal: Write a haiku") and "- draft: success" in polish
    assert polish.endswith("Polish the draft")
    assert (tmp_path / "r" / "publish" / "prompt.md").read_text() == "Publish it"


def test_engine_publishes_fidelity_and_thread_to_the_backend(tmp_path: Path) -> None:
    seen: list[tuple[str, str, str]] = []

    class Probe:
        def run(self, node: Node, prompt: str, context: Context) -> str:
            seen.append(
                (node.id, context.get_string("internal.fidelity"), context.get_string("internal.thread_id"))
            )
            return "ok"

    graph = load("engine_linear")
    graph.nodes["polish"].attrs.update({"fidelity": "full", "thread_id": "writing"})
    run_pipeline(graph, logs_root=tmp_path / "r", backend=Probe())
    assert seen == [
        ("draft", "compact", "start"),
        ("polish", "full", "writing"),
        ("publish", "compact", "polish"),
    ]
