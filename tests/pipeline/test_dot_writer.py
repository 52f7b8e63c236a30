"""Graph → DOT serialization, and the parser's robustness (hypothesis properties).

Properties: the parser never crashes on mutated input (it returns a Graph or
raises a UserError), and parse → serialize → parse is stable.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shopfloor.errors import UserError
from shopfloor.pipeline.dot_writer import format_value, to_dot
from shopfloor.pipeline.graph import Duration, Edge, Graph, Node
from shopfloor.pipeline.parser import parse_dot
from shopfloor.pipeline.prepare import Preparer
from shopfloor.pipeline.transforms import apply_transforms, built_in_transforms
from shopfloor.pipeline.validation import validate
from tests.support.dotfiles import DOT_DIR

FIXTURES = sorted(p.stem for p in DOT_DIR.glob("*.dot"))
SOURCES = [(DOT_DIR / f"{name}.dot").read_text() for name in FIXTURES]
PROPERTY_SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def canonical(graph: Graph) -> Any:
    """Everything that must survive a round trip, with value types made explicit (True != 1)."""
    def typed(attrs: dict[str, Any]) -> list[tuple[str, str, Any]]:
        return [(k, type(v).__name__, str(v) if isinstance(v, Duration) else v) for k, v in attrs.items()]
    return (graph.name, typed(graph.attrs), [(n.id, typed(n.attrs)) for n in graph.nodes.values()],
            [(e.source, e.target, typed(e.attrs)) for e in graph.edges])


@pytest.mark.parametrize("name", FIXTURES)
def test_every_fixture_round_trips(name: str) -> None:
    first = parse_dot((DOT_DIR / f"{name}.dot").read_text())
    text = to_dot(first)
    second = parse_dot(text)
    assert canonical(second) == canonical(first)
    assert to_dot(second) == text


def test_values_are_written_with_their_types() -> None:
    assert format_value("say \"hi\"\n\\") == r'"say \"hi\"\n\\"'
    assert format_value(True) == "true" and format_value(3) == "3"
    assert format_value(Duration("15m")) == "15m"
    assert format_value(1e-7) == "0.0000001" and format_value(1e22) == "10000000000000000000000.0"


def test_unwritable_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="node id"):
        to_dot(Graph("G", nodes={"has space": Node("has space")}))


# -- property: the parser never crashes -------------------------------------------------------------

_TOKENS = [*'{}[]=,;"\\/*-> \n\tabcAZ_09.:<#', "->", "--", "//", "/*", "*/", "digraph", "subgraph", "node"]
_NOISE = st.lists(st.sampled_from(_TOKENS), max_size=6).map("".join)


@st.composite
def mutated_sources(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(SOURCES))
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(text)))
        j = draw(st.integers(i, min(len(text), i + 12)))
        op = draw(st.sampled_from(["delete", "insert", "replace", "duplicate"]))
        if op == "delete":
            text = text[:i] + text[j:]
        elif op == "insert":
            text = text[:i] + draw(_NOISE) + text[i:]
        elif op == "replace":
            text = text[:i] + draw(_NOISE) + text[j:]
        else:
            text = text[:j] + text[i:j] + text[j:]
    return text


@PROPERTY_SETTINGS
@given(mutated_sources())
def test_parser_never_crashes_on_mutated_input(source: str) -> None:
    try:
        graph = parse_dot(source, "mutated.dot")
    except UserError as exc:
        assert exc.where and exc.where.startswith("mutated.dot:")
        assert "\n" not in exc.line()
        return
    # Whatever parses must also lint, transform and round-trip without crashing.
    validate(graph)
    Preparer().check(source)
    again = parse_dot(to_dot(graph))
    assert canonical(again) == canonical(graph)


@PROPERTY_SETTINGS
@given(st.text(max_size=200))
def test_parser_never_crashes_on_arbitrary_text(source: str) -> None:
    with contextlib.suppress(UserError):
        parse_dot(source)


# -- property: parse → serialize → parse is stable for generated graphs ------------------------------

_IDS = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True).filter(
    lambda s: s not in {"digraph", "graph", "node", "edge", "subgraph", "strict"})
_FREE_KEYS = st.from_regex(r"x_[a-z]{1,5}(\.[a-z]{1,3})?", fullmatch=True)
_FREE_VALUES = st.one_of(
    st.text(max_size=30), st.integers(-10**12, 10**12), st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.builds(lambda n, u: Duration(f"{n}{u}"), st.integers(0, 10**6),
              st.sampled_from(["ms", "s", "m", "h", "d"])),
)
_NODE_TYPED = st.fixed_dictionaries({}, optional={
    "label": st.text(max_size=20), "prompt": st.one_of(st.text(max_size=40), st.just("do $goal now")),
    "class": st.sampled_from(["a", "a,b", " b , c", ""]),
    "shape": st.sampled_from(["box", "Mdiamond"]),
    "max_retries": st.integers(0, 9), "goal_gate": st.booleans(),
    "timeout": st.builds(lambda n: Duration(f"{n}s"), st.integers(0, 10**5)),
})
_STYLESHEETS = ["* { llm_model: m; }", ".a { llm_provider: p } #x { reasoning_effort: low; }",
                "box { llm_model: \"q\" }", "* { bogus: 1 }", ".a {"]
_EDGE_TYPED = st.fixed_dictionaries({}, optional={
    "label": st.text(max_size=20), "condition": st.text(max_size=20), "weight": st.integers(-5, 5),
    "loop_restart": st.booleans(),
})


def _attrs(typed: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.tuples(typed, st.dictionaries(_FREE_KEYS, _FREE_VALUES, max_size=3)).map(
        lambda pair: {**pair[0], **pair[1]})


@st.composite
def graphs(draw: st.DrawFn) -> Graph:
    ids = draw(st.lists(_IDS, min_size=1, max_size=6, unique=True))
    nodes = {i: Node(i, draw(_attrs(_NODE_TYPED))) for i in ids}
    edges = [Edge(draw(st.sampled_from(ids)), draw(st.sampled_from(ids)), draw(_attrs(_EDGE_TYPED)))
             for _ in range(draw(st.integers(0, 6)))]
    graph_attrs = draw(st.fixed_dictionaries({}, optional={
        "goal": st.text(max_size=30),
        "model_stylesheet": st.one_of(st.text(max_size=30), st.sampled_from(_STYLESHEETS)),
    }))
    graph_attrs.update(draw(st.dictionaries(_FREE_KEYS, _FREE_VALUES, max_size=3)))
    return Graph(draw(st.one_of(st.just(""), _IDS)), graph_attrs, nodes, edges)


@PROPERTY_SETTINGS
@given(graphs())
def test_serialize_then_parse_gives_the_same_graph(graph: Graph) -> None:
    text = to_dot(graph)
    parsed = parse_dot(text)
    assert canonical(parsed) == canonical(graph)
    assert to_dot(parsed) == text


@PROPERTY_SETTINGS
@given(graphs())
def test_lint_and_transforms_never_crash_and_never_mutate_their_input(graph: Graph) -> None:
    before = canonical(graph)
    prepared = apply_transforms(graph, built_in_transforms())
    validate(prepared)
    assert canonical(graph) == before
