"""attractor-spec 11.13: the integration smoke test (plan -> implement -> review -> done).

The LLM callback is a CodergenBackend that answers each stage and records the
prompts it was sent, so the test checks what reached the model as well as what
the engine did with the answers.
"""

from __future__ import annotations

import json
from pathlib import Path

from shopfloor.pipeline.checkpoint import Checkpoint
from shopfloor.pipeline.context import Context
from shopfloor.pipeline.graph import Node
from shopfloor.pipeline.parser import parse_dot
from shopfloor.pipeline.runner import run_pipeline
from shopfloor.pipeline.validation import validate
from tests.support.dotfiles import dot_source


class ScriptedLLM:
    """Answers each stage as a model would and keeps the prompts it was sent."""

    def __init__(self) -> None:
        self.prompts: dict[str, list[str]] = {}

    def run(self, node: Node, prompt: str, context: Context) -> str:
        self.prompts.setdefault(node.id, []).append(prompt)
        return {"plan": "1. write hello.py", "implement": "print('hello world')", "review": "LGTM"}[node.id]


def test_smoke_pipeline_end_to_end(tmp_path: Path) -> None:
    graph = parse_dot(dot_source("engine_smoke"))
    assert graph.goal == "Create a hello world Python script"
    assert len(graph.nodes) == 5 and len(graph.edges) == 6
    assert not [d for d in validate(graph) if d.severity == "error"]

    llm = ScriptedLLM()
    result = run_pipeline(graph, logs_root=tmp_path / "run", backend=llm)

    assert result.status == "success"
    assert "implement" in result.completed_nodes
    for stage in ("plan", "implement", "review"):
        for name in ("prompt.md", "response.md", "status.json"):
            assert (tmp_path / "run" / stage / name).is_file(), f"{stage}/{name}"
    assert llm.prompts["plan"][0].endswith("Plan how to create a hello world script for: "
                                           "Create a hello world Python script")
    assert (tmp_path / "run" / "implement" / "response.md").read_text() == "print('hello world')"
    assert result.node_outcomes["implement"] == "success", "goal gate satisfied"
    assert json.loads((tmp_path / "run" / "review" / "status.json").read_text())["outcome"] == "success"

    checkpoint = Checkpoint.load(tmp_path / "run")
    assert checkpoint.current_node == "done"
    assert {"plan", "implement", "review"} <= set(checkpoint.completed_nodes)
