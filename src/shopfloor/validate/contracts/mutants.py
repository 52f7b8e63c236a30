"""Mutants of Python source: small semantic changes a good test suite notices.

Operators: comparison swaps (== ↔ !=, < ↔ >=, > ↔ <=, in ↔ not in, is ↔ is not),
arithmetic swaps (+ ↔ -, * ↔ /), `and` ↔ `or`, `not x` → `x`, True ↔ False,
an integer n → n + 1, and `return value` → `return None`. Only nodes on the
given (covered) lines are mutated.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Iterator
from dataclasses import dataclass

_COMPARE_SWAPS: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Lt: ast.GtE,
    ast.GtE: ast.Lt,
    ast.Gt: ast.LtE,
    ast.LtE: ast.Gt,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}
_BINOP_SWAPS: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
}


@dataclass
class Mutant:
    path: str
    line: int
    description: str
    source: str


def _mutations(node: ast.AST) -> Iterator[tuple[str, ast.AST]]:
    """(description, replacement node) for each way to mutate `node` itself."""
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _COMPARE_SWAPS:
        new = copy.deepcopy(node)
        new.ops = [_COMPARE_SWAPS[type(node.ops[0])]()]
        yield f"{type(node.ops[0]).__name__} → {type(new.ops[0]).__name__}", new
    elif isinstance(node, ast.BinOp) and type(node.op) in _BINOP_SWAPS:
        new = copy.deepcopy(node)
        new.op = _BINOP_SWAPS[type(node.op)]()
        yield f"{type(node.op).__name__} → {type(new.op).__name__}", new
    elif isinstance(node, ast.BoolOp):
        new = copy.deepcopy(node)
        new.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        yield f"{type(node.op).__name__} → {type(new.op).__name__}", new
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield "not x → x", copy.deepcopy(node.operand)
    elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
        yield f"{node.value} → {not node.value}", ast.Constant(not node.value)
    elif isinstance(node, ast.Constant) and type(node.value) is int:
        yield f"{node.value} → {node.value + 1}", ast.Constant(node.value + 1)
    elif (
        isinstance(node, ast.Return)
        and node.value is not None
        and not (isinstance(node.value, ast.Constant) and node.value.value is None)
    ):
        yield "return value → return None", ast.Return(ast.Constant(None))


class _Replace(ast.NodeTransformer):
    def __init__(self, target: ast.AST, replacement: ast.AST) -> None:
        self.target, self.replacement = target, replacement

    def visit(self, node: ast.AST) -> ast.AST:
        if node is self.target:
            return ast.copy_location(self.replacement, node)
        return super().visit(node)


def _skipped(tree: ast.Module) -> set[int]:
    """ids of nodes not worth mutating: docstrings and `__all__`-style constant assignments."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
        ):
            skip.add(id(body[0].value))
    return skip


def mutants_of(path: str, source: str, lines: set[int]) -> list[Mutant]:
    """Every mutant of `source` whose mutated node starts on one of `lines`."""
    tree = ast.parse(source)
    skip = _skipped(tree)
    sites = [
        (node, description, replacement)
        for node in ast.walk(tree)
        if id(node) not in skip and getattr(node, "lineno", None) in lines
        for description, replacement in _mutations(node)
    ]
    out: list[Mutant] = []
    for node, description, replacement in sites:
        # Swap the node in place, render, and swap it back: the tree is shared by every mutant.
        _Replace(node, replacement).visit(tree)
        out.append(Mutant(path, getattr(node, "lineno", 0), description, ast.unparse(tree)))
        _Replace(replacement, node).visit(tree)
    return out


def spread(items: list[Mutant], limit: int) -> list[Mutant]:
    """At most `limit` items, evenly spaced (deterministic)."""
    if len(items) <= limit:
        return items
    step = len(items) / limit
    return [items[int(i * step)] for i in range(limit)]
