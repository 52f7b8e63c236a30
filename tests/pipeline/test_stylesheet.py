"""attractor-spec section 8 / DoD 11.10: the model stylesheet."""

from __future__ import annotations

import pytest

from shopfloor.errors import UserError
from shopfloor.pipeline.graph import Node
from shopfloor.pipeline.parser import parse_dot
from shopfloor.pipeline.stylesheet import Selector, StylesheetSyntaxError, parse_stylesheet
from shopfloor.pipeline.transforms import StylesheetTransform
from tests.support.dotfiles import dot_source


@pytest.fixture
def styled() -> dict[str, Node]:
    return StylesheetTransform().apply(parse_dot(dot_source("stylesheet"))).nodes


def test_stylesheet_is_parsed_from_the_graph_attribute() -> None:
    sheet = parse_stylesheet(parse_dot(dot_source("stylesheet")).get("model_stylesheet"))
    assert [str(r.selector) for r in sheet.rules] == ["*", "box", ".code", "#critical_review", ".later",
                                                      ".later"]
    assert sheet.rules[3].declarations == (("llm_model", "gpt-5.2"), ("llm_provider", "openai"),
                                           ("reasoning_effort", "high"))


def test_shape_selector_beats_universal(styled: dict[str, Node]) -> None:
    assert styled["plan"].get("llm_model") == "box-model"
    assert styled["plan"].get("llm_provider") == "anthropic"  # from *, box sets only the model
    assert styled["ask"].get("llm_model") == "claude-sonnet-4-5"  # hexagon: only * matches


def test_class_selector_beats_shape(styled: dict[str, Node]) -> None:
    assert styled["implement"].get("llm_model") == "claude-opus-4-6"


def test_id_selector_beats_class(styled: dict[str, Node]) -> None:
    review = styled["critical_review"]
    assert (review.get("llm_model"), review.get("llm_provider"), review.get("reasoning_effort")) == (
        "gpt-5.2", "openai", "high")


def test_later_rule_of_equal_specificity_wins(styled: dict[str, Node]) -> None:
    assert styled["implement"].get("reasoning_effort") == "medium"


def test_explicit_node_attributes_override_the_stylesheet(styled: dict[str, Node]) -> None:
    assert styled["pinned"].get("llm_model") == "explicit-model"
    assert styled["pinned"].get("llm_provider") == "anthropic"


def test_graph_level_attribute_is_the_fallback_below_the_stylesheet() -> None:
    graph = parse_dot('digraph G { graph [llm_provider="p0", reasoning_effort="low", '
                      'model_stylesheet=".x { llm_provider: p1 }"] a [class="x"] b }')
    nodes = StylesheetTransform().apply(graph).nodes
    assert nodes["a"].get("llm_provider") == "p1"
    assert nodes["b"].get("llm_provider") == "p0"
    assert nodes["b"].get("reasoning_effort") == "low"
    assert "llm_model" not in nodes["b"].attrs


def test_subgraph_derived_classes_are_selectable() -> None:
    graph = parse_dot('digraph G { graph [model_stylesheet=".loop-a { llm_model: loop-model }"] '
                      'subgraph s { label="Loop A" inner } outer }')
    nodes = StylesheetTransform().apply(graph).nodes
    assert nodes["inner"].get("llm_model") == "loop-model"
    assert "llm_model" not in nodes["outer"].attrs


def test_selector_matching() -> None:
    node = Node("review", {"shape": "box", "class": "code, fast"})
    assert Selector("universal").matches(node)
    assert Selector("shape", "box").matches(node) and not Selector("shape", "diamond").matches(node)
    assert Selector("class", "fast").matches(node) and not Selector("class", "slow").matches(node)
    assert Selector("id", "review").matches(node) and not Selector("id", "other").matches(node)
    assert Selector("shape", "box").matches(Node("implicit"))  # shape defaults to box


@pytest.mark.parametrize(("text", "needle", "line", "column"), [
    ("* { temperature: 1 }", "unknown property", 1, 5),
    ("* { llm_model gpt }", "expected ':'", 1, 15),
    ("* { llm_model: a b }", "expected ';'", 1, 18),
    ("* llm_model: a", "expected '{'", 1, 3),
    ("\n\n  #  { llm_model: a }", "node id after '#'", 3, 6),
    ("* { llm_model: a; ", "unclosed", 1, 19),
    ("* { reasoning_effort: extreme }", "not one of", 1, 23),
    ('* { llm_model: "open }', "unterminated string", 1, 16),
    ("@ { }", "expected a selector", 1, 1),
])
def test_syntax_errors(text: str, needle: str, line: int, column: int) -> None:
    with pytest.raises(StylesheetSyntaxError) as info:
        parse_stylesheet(text)
    assert isinstance(info.value, UserError) and info.value.fix
    assert needle in info.value.what
    assert (info.value.lineno, info.value.column) == (line, column)


def test_empty_stylesheet_and_comments() -> None:
    assert parse_stylesheet("  /* nothing */ ").rules == ()
    assert parse_stylesheet("box{llm_model:m}").rules[0].declarations == (("llm_model", "m"),)
