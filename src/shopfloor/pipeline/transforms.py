"""Graph transforms between parsing and validation (attractor-spec 9.1-9.3).

A transform is anything with `apply(graph) -> Graph`, or a plain function
`graph -> graph`. Transforms must not modify their input: the built-ins work
on `graph.copy()`, so the parsed graph stays what the file says.

Built-in order: variable expansion, then the stylesheet; custom transforms run
after them in registration order (9.3).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol, runtime_checkable

from shopfloor.pipeline.graph import Graph
from shopfloor.pipeline.stylesheet import PROPERTIES, StylesheetSyntaxError, parse_stylesheet


@runtime_checkable
class Transform(Protocol):
    def apply(self, graph: Graph) -> Graph: ...


TransformLike = Transform | Callable[[Graph], Graph]


class VariableExpansionTransform:
    """9.2: `$goal` in node prompts becomes the graph's `goal`."""

    def apply(self, graph: Graph) -> Graph:
        out = graph.copy()
        for node in out.nodes.values():
            prompt = node.get("prompt")
            if isinstance(prompt, str) and "$goal" in prompt:
                node.attrs["prompt"] = prompt.replace("$goal", out.goal)
        return out


class StylesheetTransform:
    """8.5: fill llm_model / llm_provider / reasoning_effort a node does not set itself.

    Precedence: the node's own attribute, then the best stylesheet rule, then a
    graph-level attribute of the same name. An unparsable stylesheet is left
    alone here; the `stylesheet_syntax` lint rule reports it.
    """

    def apply(self, graph: Graph) -> Graph:
        out = graph.copy()
        text = out.get("model_stylesheet")
        try:
            sheet = parse_stylesheet(text) if isinstance(text, str) and text.strip() else None
        except StylesheetSyntaxError:
            sheet = None
        for node in out.nodes.values():
            styled = sheet.resolve(node) if sheet else {}
            for prop in PROPERTIES:
                if prop in node.attrs:
                    continue
                if prop in styled:
                    node.attrs[prop] = styled[prop]
                elif isinstance(out.get(prop), str) and out.get(prop):
                    node.attrs[prop] = out.attrs[prop]
        return out


def built_in_transforms() -> list[Transform]:
    return [VariableExpansionTransform(), StylesheetTransform()]


def apply_transforms(graph: Graph, transforms: Iterable[TransformLike]) -> Graph:
    for transform in transforms:
        graph = transform.apply(graph) if isinstance(transform, Transform) else transform(graph)
        if not isinstance(graph, Graph):
            raise TypeError(f"transform {transform!r} returned {type(graph).__name__}, not a Graph")
    return graph
