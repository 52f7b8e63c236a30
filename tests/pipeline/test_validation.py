"""attractor-spec section 7 / DoD 11.2: lint rules and the validation API."""

from __future__ import annotations

import pytest

from shopfloor.errors import UserError
from shopfloor.pipeline.diagnostics import Diagnostic, Severity
from shopfloor.pipeline.graph import Edge, Graph, Node
from shopfloor.pipeline.lint_rules import LintRule
from shopfloor.pipeline.parser import parse_dot
from shopfloor.pipeline.validation import ValidationError, validate, validate_or_raise
from tests.support.dotfiles import dot_source


def _lint(name: str) -> list[Diagnostic]:
    return validate(parse_dot(dot_source(name), f"{name}.dot"))


def _by_rule(diagnostics: list[Diagnostic], rule: str) -> list[Diagnostic]:
    return [d for d in diagnostics if d.rule == rule]


@pytest.mark.parametrize("name", ["linear", "branch", "spec_smoke", "stylesheet", "multiline"])
def test_valid_pipelines_have_no_errors(name: str) -> None:
    assert [d for d in _lint(name) if d.severity is Severity.ERROR] == []


def test_spec_smoke_pipeline_counts() -> None:
    graph = parse_dot(dot_source("spec_smoke"))
    assert graph.goal == "Create a hello world Python script"
    assert len(graph.nodes) == 5 and len(graph.edges) == 6
    assert _lint("spec_smoke") == []


def test_missing_start_node_is_an_error() -> None:
    (diag,) = _by_rule(_lint("missing_start"), "start_node")
    assert diag.severity is Severity.ERROR and "no start node" in diag.message


def test_missing_exit_node_is_an_error() -> None:
    (diag,) = _by_rule(_lint("missing_exit"), "terminal_node")
    assert diag.severity is Severity.ERROR and diag.fix


def test_more_than_one_start_or_exit_is_an_error() -> None:
    graph = parse_dot("digraph G { s1 [shape=Mdiamond] s2 [shape=Mdiamond] e [shape=Msquare] "
                      "x [shape=Msquare] s1 -> e s2 -> x }")
    diags = validate(graph)
    assert [d.node_id for d in _by_rule(diags, "start_node")] == ["s2"]
    assert [d.node_id for d in _by_rule(diags, "terminal_node")] == ["x"]


def test_start_and_exit_found_by_id_when_no_shape_marks_them() -> None:
    graph = parse_dot('digraph G { start [prompt="p"] end [prompt="q"] start -> end }')
    diags = validate(graph)
    assert not _by_rule(diags, "start_node") and not _by_rule(diags, "terminal_node")


def test_orphan_node_is_a_warning() -> None:
    (diag,) = _by_rule(_lint("orphan"), "reachability")
    assert (diag.severity, diag.node_id) == (Severity.WARNING, "lonely")
    assert str(diag.loc) == "orphan.dot:5:5"


def test_each_error_rule_fires_on_broken_pipeline() -> None:
    diags = _lint("broken")
    errors = {(d.rule, d.node_id, d.edge) for d in diags if d.severity is Severity.ERROR}
    assert ("reachability", "island", None) in errors
    assert ("edge_target_exists", None, ("a", "ghost")) in errors
    assert ("start_no_incoming", None, ("a", "start")) in errors
    assert ("exit_no_outgoing", None, ("exit", "a")) in errors
    assert ("condition_syntax", None, ("a", "exit")) in errors
    types = [d for d in diags if d.rule == "attribute_type"]
    assert {d.message for d in types} == {
        "node a: max_retries must be a whole number >= 0, got 'abc'",
        "node a: timeout must be a duration such as 900s, got 'soon'",
    }
    assert [str(d.loc) for d in types] == ["broken.dot:5:32", "broken.dot:5:47"]
    (cond,) = _by_rule(diags, "condition_syntax")
    assert "==" in cond.message and cond.fix == "use a single = for equality"
    assert str(cond.loc) == "broken.dot:8:26"


def test_stylesheet_syntax_is_an_error_with_location() -> None:
    (diag,) = _by_rule(_lint("bad_stylesheet"), "stylesheet_syntax")
    assert diag.severity is Severity.ERROR
    assert "temperature" in diag.message and "line 1" in diag.message
    assert str(diag.loc) == "bad_stylesheet.dot:2:29"


def test_warning_rules() -> None:
    diags = _lint("warnings")
    assert {d.severity for d in diags} == {Severity.WARNING}
    found = {(d.rule, d.node_id, d.edge) for d in diags}
    assert ("type_known", "a", None) in found
    assert ("fidelity_valid", None, None) in found  # graph default_fidelity
    assert ("fidelity_valid", "a", None) in found
    assert ("fidelity_valid", None, ("bare", "exit")) in found
    assert ("retry_target_exists", "a", None) in found
    assert ("goal_gate_has_retry", "gate", None) in found
    prompts = {d.node_id for d in _by_rule(diags, "prompt_on_llm_nodes")}
    assert prompts == {"bare"}  # 'a' has an explicit type, 'gate' has a prompt


def test_codergen_node_without_prompt_warns() -> None:
    graph = parse_dot("digraph G { start [shape=Mdiamond] work exit [shape=Msquare] start -> work -> exit }")
    (diag,) = _by_rule(validate(graph), "prompt_on_llm_nodes")
    assert (diag.severity, diag.node_id) == (Severity.WARNING, "work")


def test_type_known_accepts_plugin_types() -> None:
    graph = parse_dot('digraph G { start [shape=Mdiamond] t [type="shopfloor.twins"] exit [shape=Msquare] '
                      "start -> t -> exit }")
    assert _by_rule(validate(graph), "type_known")
    assert not _by_rule(validate(graph, handler_types=["shopfloor.twins"]), "type_known")


def test_validate_or_raise_throws_on_errors_only() -> None:
    with pytest.raises(ValidationError) as info:
        validate_or_raise(parse_dot(dot_source("missing_exit"), "missing_exit.dot"))
    assert isinstance(info.value, UserError)
    assert info.value.diagnostics and "no exit node" in info.value.line()
    warnings = validate_or_raise(parse_dot(dot_source("orphan")))
    assert warnings and all(d.severity is Severity.WARNING for d in warnings)


def test_diagnostics_carry_rule_severity_subject_and_message() -> None:
    diag = _by_rule(_lint("broken"), "edge_target_exists")[0]
    as_dict = diag.to_dict()
    assert as_dict["rule"] == "edge_target_exists"
    assert as_dict["severity"] == "error"
    assert as_dict["edge"] == {"from": "a", "to": "ghost"}
    assert "ghost" in as_dict["message"]
    assert as_dict["location"] == "broken.dot:9:5"
    node_diag = _by_rule(_lint("orphan"), "reachability")[0].to_dict()
    assert node_diag["node_id"] == node_diag["node"] == "lonely"


def test_custom_lint_rules_run_after_built_ins() -> None:
    class NoShouting:
        name = "no_shouting"

        def apply(self, graph: Graph) -> list[Diagnostic]:
            return [Diagnostic(self.name, Severity.ERROR, f"{n.id} is upper case", node_id=n.id)
                    for n in graph.nodes.values() if n.id.isupper()]

    rule = NoShouting()
    assert isinstance(rule, LintRule)
    diags = validate(parse_dot(dot_source("linear")), [rule])
    assert [(d.rule, d.node_id) for d in diags if d.rule == "no_shouting"] == [("no_shouting", "A"),
                                                                              ("no_shouting", "B")]
    with pytest.raises(ValidationError, match="A is upper case"):
        validate_or_raise(parse_dot(dot_source("linear")), [rule])


def test_programmatic_graphs_validate_too() -> None:
    graph = Graph("G", nodes={"start": Node("start", {"shape": "Mdiamond"}),
                              "exit": Node("exit", {"shape": "Msquare"})},
                  edges=[Edge("start", "exit"), Edge("start", "missing")])
    diags = validate(graph)
    assert [d.rule for d in diags if d.severity is Severity.ERROR] == ["edge_target_exists"]


def test_manager_stop_condition_is_checked_too() -> None:
    graph = parse_dot('digraph G { start [shape=Mdiamond] boss [shape=house, '
                      'manager.stop_condition="context.done=true || x"] exit [shape=Msquare] '
                      "start -> boss -> exit }", "m.dot")
    (diag,) = _by_rule(validate(graph), "condition_syntax")
    assert diag.node_id == "boss" and diag.message.startswith("manager.stop_condition: bad condition")
    assert str(diag.loc) == "m.dot:1:78"
