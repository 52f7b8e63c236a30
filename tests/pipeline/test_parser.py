"""attractor-spec section 2 / DoD 11.1: the DOT subset parser."""

from __future__ import annotations

import pytest

from shopfloor.errors import UserError
from shopfloor.pipeline.graph import Duration
from shopfloor.pipeline.parser import DotSyntaxError, derive_class, parse_dot
from tests.support.dotfiles import dot_source


def test_parses_a_simple_linear_pipeline() -> None:
    graph = parse_dot(dot_source("linear"), "linear.dot")
    assert graph.name == "Linear"
    assert list(graph.nodes) == ["start", "A", "B", "done"]
    assert [(e.source, e.target) for e in graph.edges] == [("start", "A"), ("A", "B"), ("B", "done")]
    assert graph.nodes["A"].prompt == "Do A"
    assert graph.nodes["start"].handler_type == "start"
    assert graph.nodes["done"].handler_type == "exit"
    assert graph.nodes["A"].handler_type == "codergen"


def test_graph_level_attributes_from_block_and_declarations() -> None:
    graph = parse_dot(dot_source("graph_attrs"))
    assert graph.goal == "Run tests and report"
    assert graph.get("label") == "Test pipeline"
    assert graph.get("rankdir") == "LR"
    assert graph.get("model_stylesheet") == "box { llm_model: fast-model; }"
    assert graph.get("default_max_retries") == 2
    assert graph.get("stack.child_dotfile") == "child.dot"


def test_multi_line_attribute_blocks_and_string_escapes() -> None:
    graph = parse_dot(dot_source("multiline"))
    gate = graph.nodes["review_gate"]
    assert gate.shape == "hexagon"
    assert gate.label == "Review Changes"
    assert gate.handler_type == "wait.human"
    assert gate.prompt == 'Line one\nLine two with a "quote" and a \\ backslash\tTab'
    (_, edge) = graph.edges
    assert edge.label == "[A] Approve"
    assert edge.condition == 'preferred_label="[A] Approve"'
    assert edge.weight == 5


def test_edge_attributes_label_condition_weight() -> None:
    graph = parse_dot(dot_source("branch"))
    yes, no = graph.outgoing("gate")
    assert (yes.target, yes.label, yes.condition, yes.weight) == ("exit", "Yes", "outcome=success", 0)
    assert (no.target, no.label, no.condition) == ("implement", "No", "outcome!=success")


def test_chained_edges_expand_to_one_edge_per_pair_with_shared_attrs() -> None:
    graph = parse_dot("digraph G { a; b; c; d; a -> b -> c -> d [label=\"next\", weight=2] }")
    assert [(e.source, e.target) for e in graph.edges] == [("a", "b"), ("b", "c"), ("c", "d")]
    assert all(e.attrs == {"label": "next", "weight": 2} for e in graph.edges)
    graph.edges[0].attrs["label"] = "changed"
    assert graph.edges[1].label == "next"  # each edge owns its attrs


def test_node_defaults_apply_to_later_nodes_and_explicit_attrs_win() -> None:
    graph = parse_dot(dot_source("branch"))
    assert graph.nodes["plan"].get("timeout") == Duration("900s")
    assert graph.nodes["start"].shape == "Mdiamond"
    assert graph.nodes["plan"].shape == "box"


def test_defaults_are_scoped_to_subgraphs_which_are_flattened() -> None:
    graph = parse_dot(dot_source("scoped"))
    assert "early" in graph.nodes and "timeout" not in graph.nodes["early"].attrs  # declared before the block
    plan, implement, deep, after = (graph.nodes[n] for n in ("Plan", "Implement", "Deep", "after"))
    assert plan.get("thread_id") == "loop-a" and plan.get("timeout") == Duration("900s")
    assert implement.get("thread_id") == "loop-a" and implement.get("timeout") == Duration("1800s")
    assert deep.get("thread_id") == "loop-a"  # nested subgraph inherits its parent's defaults
    assert after.get("timeout") == Duration("60s") and "thread_id" not in after.attrs  # scope closed
    assert after.get("reasoning_effort") == "low"
    # edge defaults: weight=3 unless overridden
    weights = {(e.source, e.target): e.weight for e in graph.edges}
    assert weights[("Plan", "Implement")] == 7
    assert weights[("start", "early")] == 3
    # subgraph labels are not graph attributes
    assert "label" not in graph.attrs


def test_subgraph_labels_derive_classes_merged_with_explicit_ones() -> None:
    graph = parse_dot(dot_source("scoped"))
    assert graph.nodes["Plan"].classes == ["planning", "loop-a"]
    assert graph.nodes["Implement"].classes == ["loop-a"]
    assert graph.nodes["Deep"].classes == ["deep-work", "loop-a"]
    assert graph.nodes["after"].classes == []


@pytest.mark.parametrize(("label", "cls"), [("Loop A", "loop-a"), ("Loop A!", "loop-a"),
                                             ("Review & Ship 2", "review--ship-2"), ("UPPER", "upper")])
def test_derive_class(label: str, cls: str) -> None:
    assert derive_class(label) == cls


def test_quoted_and_unquoted_values_are_typed() -> None:
    graph = parse_dot(dot_source("values"))
    assert graph.attrs["ratio"] == 0.5 and isinstance(graph.attrs["ratio"], float)
    assert graph.attrs["negative"] == -3.25
    assert graph.attrs["count"] == -1 and isinstance(graph.attrs["count"], int)
    assert graph.attrs["flag"] is True
    assert graph.attrs["model"] == "gpt-5.2"
    assert graph.attrs["mode"] == "summary:high"
    work = graph.nodes["work"]
    assert work.get("max_retries") == 3
    assert work.get("goal_gate") is True and work.goal_gate
    assert work.get("timeout") == Duration("250ms") and float(work.get("timeout")) == 0.25
    assert work.get("allow_partial") is True  # typed attribute: a quoted "true" is coerced
    assert work.get("auto_status") is False
    assert work.get("retries_quoted") == "3"  # free-form attribute: quoted stays a string
    assert work.get("label") == "42"  # label is a string attribute even when written bare
    weights = [e.get("weight") for e in graph.edges]
    assert weights == [-2, 4]
    assert graph.edges[1].get("loop_restart") is False


@pytest.mark.parametrize(("text", "seconds"), [("250ms", 0.25), ("900s", 900), ("15m", 900), ("2h", 7200),
                                               ("1d", 86400)])
def test_durations(text: str, seconds: float) -> None:
    graph = parse_dot(f'digraph G {{ a [timeout={text}] b [timeout="{text}"] }}')
    for node in graph.nodes.values():
        assert float(node.get("timeout")) == seconds
        assert str(node.get("timeout")) == text


def test_comments_are_stripped_but_not_inside_strings() -> None:
    graph = parse_dot('''// leading comment
    /* block
       comment */ digraph G { // trailing
        a [prompt="keep // this and /* this */"] /* between */ b
        a -> /* inline */ b // done
    }''')
    assert graph.nodes["a"].prompt == "keep // this and /* this */"
    assert list(graph.nodes) == ["a", "b"]
    assert len(graph.edges) == 1


def test_semicolons_are_optional_and_redeclaration_merges() -> None:
    graph = parse_dot("digraph G { a [label=\"A\"]; a [prompt=\"p\"]; a -> a; }")
    assert graph.nodes["a"].attrs == {"label": "A", "prompt": "p"}


def test_edges_do_not_declare_nodes() -> None:
    graph = parse_dot("digraph G { a; a -> typo }")
    assert list(graph.nodes) == ["a"]
    assert graph.edges[0].target == "typo"


def test_source_locations_are_recorded() -> None:
    graph = parse_dot(dot_source("branch"), "branch.dot")
    plan = graph.nodes["plan"]
    assert (plan.loc.line, plan.loc.col) == (8, 5)
    assert str(plan.attr_locs["prompt"]) == "branch.dot:8:37"
    assert plan.attr_locs["timeout"].line == 4  # inherited from the node defaults block


@pytest.mark.parametrize(("source", "line", "col", "needle"), [
    ("graph G { a -> b }", 1, 1, "undirected graphs"),
    ("strict digraph G { }", 1, 1, "strict"),
    ("digraph G { a -- b }", 1, 15, "undirected edge"),
    ("digraph G {\n  a [label=\"x\" prompt=\"y\"]\n}", 2, 16, "missing ','"),
    ("digraph G {\n  a [label=\"x\"; prompt=\"y\"]\n}", 2, 15, "';' between"),
    ("digraph G {\n  a [label=\"unterminated]\n}", 2, 12, "unterminated string"),
    ("digraph G {\n  a [label=\"x\"\n", 2, 5, "unclosed '['"),
    ("digraph G {\n  a -> b\n", 1, 11, "unclosed '{'"),
    ("digraph G { \"quoted id\" }", 1, 13, "quoted node id"),
    ("digraph G { a -> \"b\" }", 1, 18, "quoted node id"),
    ("digraph G { a:p1 -> b }", 1, 14, "ports"),
    ("digraph G { a [label=<b>x</b>] }", 1, 22, "HTML"),
    ("digraph G { a [label=hello world] }", 1, 28, "missing ','"),
    ("digraph G { a [x=http://x] }", 1, 18, "invalid unquoted value"),
    ("digraph G { } digraph H { }", 1, 15, "more than one graph"),
    ("digraph G { { a } }", 1, 13, "anonymous"),
    ("digraph G { a [=1] }", 1, 16, "expected an attribute name"),
    ("digraph G { a [b] }", 1, 17, "expected '='"),
    ("digraph G { /* never closed", 1, 13, "unterminated /*"),
    ("", 1, 1, "expected 'digraph'"),
    ("digraph G { node }", 1, 18, "keyword"),
    ("digraph G { a.b -> c }", 1, 17, "expected '='"),
])
def test_syntax_errors_carry_line_column_and_fix(source: str, line: int, col: int, needle: str) -> None:
    with pytest.raises(DotSyntaxError) as info:
        parse_dot(source, "bad.dot")
    err = info.value
    assert isinstance(err, UserError)
    assert (err.lineno, err.column) == (line, col), err.line()
    assert needle in err.line()
    assert err.fix
    assert err.line().startswith(f"bad.dot:{line}:{col}: ")
    assert "\n" not in err.line()


def test_subgraph_nesting_is_bounded() -> None:
    deep = "digraph G { " + "subgraph { " * 5 + "a" + " }" * 5 + " }"
    assert "a" in parse_dot(deep).nodes
    with pytest.raises(DotSyntaxError, match="nested deeper than 3"):
        parse_dot(deep, max_depth=3)
