"""attractor-spec 9.1-9.3 / DoD 11.11: transforms between parsing and validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from shopfloor.errors import UserError
from shopfloor.pipeline.graph import Edge, Graph, Node
from shopfloor.pipeline.parser import parse_dot
from shopfloor.pipeline.prepare import Preparer, prepare_pipeline
from shopfloor.pipeline.transforms import Transform, VariableExpansionTransform, apply_transforms
from tests.support.dotfiles import dot_path, dot_source


def test_variable_expansion_replaces_goal_in_prompts_without_touching_the_input() -> None:
    parsed = parse_dot(dot_source("stylesheet"))
    expanded = VariableExpansionTransform().apply(parsed)
    assert expanded.nodes["plan"].prompt == "Plan: Implement feature X"
    assert parsed.nodes["plan"].prompt == "Plan: $goal"  # transforms do not modify their input


def test_prepare_runs_built_in_transforms_before_validation() -> None:
    graph = prepare_pipeline(dot_path("graph_attrs"))
    assert graph.nodes["run_tests"].prompt == "Run the test suite for: Run tests and report"
    assert graph.nodes["run_tests"].get("llm_model") == "fast-model"  # stylesheet `box` rule


class AuditTransform:
    """Inserts an audit node after the start node: a structural rewrite."""

    def apply(self, graph: Graph) -> Graph:
        start = graph.start_nodes()[0].id
        out = Graph(graph.name, dict(graph.attrs), dict(graph.nodes), [])
        out.nodes["audit"] = Node("audit", {"prompt": "record the run"})
        for edge in graph.edges:
            if edge.source == start:
                out.edges.append(Edge(start, "audit"))
                out.edges.append(Edge("audit", edge.target, dict(edge.attrs)))
            else:
                out.edges.append(edge)
        return out


def test_custom_transforms_modify_the_graph_between_parse_and_validate() -> None:
    assert isinstance(AuditTransform(), Transform)
    graph = prepare_pipeline(dot_path("linear"), transforms=[AuditTransform()])
    assert [(e.source, e.target) for e in graph.edges][:2] == [("start", "audit"), ("audit", "A")]


def test_custom_transforms_run_after_built_ins_in_registration_order() -> None:
    seen: list[str] = []

    def first(graph: Graph) -> Graph:
        seen.append(f"first saw prompt {graph.nodes['run_tests'].prompt!r}")
        graph.attrs["order"] = "first"
        return graph

    def second(graph: Graph) -> Graph:
        seen.append(f"second saw order={graph.attrs['order']}")
        return graph

    preparer = Preparer()
    preparer.register_transform(first)
    preparer.register_transform(second)
    preparer.prepare(dot_path("graph_attrs"))
    assert seen == ["first saw prompt 'Run the test suite for: Run tests and report'",
                    "second saw order=first"]


def test_a_transform_can_break_a_graph_and_validation_catches_it() -> None:
    def drop_exit(graph: Graph) -> Graph:
        graph.nodes.pop("done")
        return graph

    with pytest.raises(UserError, match="no exit node"):
        prepare_pipeline(dot_path("linear"), transforms=[drop_exit])


def test_transforms_must_return_a_graph() -> None:
    with pytest.raises(TypeError, match="not a Graph"):
        apply_transforms(parse_dot(dot_source("linear")), [lambda g: None])  # type: ignore[arg-type,return-value]


def test_prepare_reports_the_first_error_with_file_line_col(tmp_path: Path) -> None:
    with pytest.raises(UserError) as info:
        prepare_pipeline(dot_path("broken"))
    line = info.value.line()
    assert line.startswith(f"{dot_path('broken')}:5:")  # max_retries="abc" comes first in source order
    assert "more errors" in line and "\n" not in line


def test_prepare_syntax_error_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.dot"
    bad.write_text("digraph G {\n  a -- b\n}\n")
    with pytest.raises(UserError, match=r"bad\.dot:2:5: undirected edge"):
        prepare_pipeline(bad)
    with pytest.raises(UserError, match="pipeline file not found"):
        prepare_pipeline(tmp_path / "nope.dot")
    with pytest.raises(UserError, match="not a file"):
        prepare_pipeline(tmp_path)
    binary = tmp_path / "bin.dot"
    binary.write_bytes(b"digraph G { a [label=\"\xff\"] }")
    with pytest.raises(UserError, match="not UTF-8"):
        prepare_pipeline(binary)


def test_prepare_accepts_source_text_and_keeps_warnings() -> None:
    prepared = Preparer().prepare(dot_source("orphan"))
    assert prepared.graph.filename == "<string>"
    assert [d.rule for d in prepared.warnings] == ["reachability"]
