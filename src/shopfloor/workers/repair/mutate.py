"""AST mutation operators that edit source text in place.

Each mutant rewrites only the span of the node it changes (found from the AST's
positions), so the rest of the file keeps its comments and layout and the
resulting patch is as small as the edit. Operators, cheapest first:
comparison and arithmetic/boolean operator swaps, constant changes, condition
negation, operand removal, variable substitution, then statement deletion,
swap with the next statement, and insertion of a statement copied from the
same program.
"""

from __future__ import annotations

import ast
import random
from collections.abc import Iterator
from dataclasses import dataclass

#: How many statements of the same program are tried as insertions before a suspicious line.
DEFAULT_INSERTION_SOURCES = 8
#: How many other variable names are tried in place of one variable.
DEFAULT_NAME_SUBSTITUTES = 6

_BINOP_SWAPS: dict[type[ast.operator], list[type[ast.operator]]] = {
    ast.Add: [ast.Sub, ast.Mult], ast.Sub: [ast.Add], ast.Mult: [ast.Div, ast.FloorDiv, ast.Add],
    ast.Div: [ast.FloorDiv, ast.Mult], ast.FloorDiv: [ast.Div, ast.Mod], ast.Mod: [ast.FloorDiv],
    ast.Pow: [ast.Mult], ast.BitAnd: [ast.BitOr], ast.BitOr: [ast.BitAnd],
    ast.LShift: [ast.RShift], ast.RShift: [ast.LShift],
}
_CMP_SWAPS: dict[type[ast.cmpop], list[type[ast.cmpop]]] = {
    ast.Lt: [ast.LtE, ast.Gt, ast.GtE], ast.LtE: [ast.Lt, ast.GtE, ast.Gt],
    ast.Gt: [ast.GtE, ast.Lt, ast.LtE], ast.GtE: [ast.Gt, ast.LtE, ast.Lt],
    ast.Eq: [ast.NotEq], ast.NotEq: [ast.Eq], ast.Is: [ast.IsNot], ast.IsNot: [ast.Is],
    ast.In: [ast.NotIn], ast.NotIn: [ast.In],
}
#: Operators grouped from most to least likely to be the fix; the search exhausts a tier first.
OPERATOR_TIERS: list[frozenset[str]] = [
    frozenset({"compare", "binop", "boolop", "constant"}),
    frozenset({"negate", "unary", "operand"}),
    frozenset({"name"}),
    frozenset({"delete", "swap", "insert"}),
]
_EXPRESSION_ORDER = ["compare", "binop", "boolop", "constant", "unary", "operand"]
_LOOSE = (ast.BinOp, ast.BoolOp, ast.Compare, ast.UnaryOp, ast.IfExp, ast.Lambda, ast.NamedExpr)


@dataclass(frozen=True)
class Mutant:
    path: str
    line: int
    operator: str
    description: str
    source: str


class _Source:
    """A file's text with its AST and a map from AST (line, byte column) to text offsets."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tree = ast.parse(text)
        self.lines = text.splitlines(keepends=True)
        self.line_starts = [0]
        for line in self.lines:
            self.line_starts.append(self.line_starts[-1] + len(line))
        self.parents: dict[ast.AST, ast.AST] = {}
        for parent in ast.walk(self.tree):
            for child in ast.iter_child_nodes(parent):
                self.parents[child] = parent

    def offset(self, lineno: int, col_bytes: int) -> int:
        line = self.lines[lineno - 1]
        return self.line_starts[lineno - 1] + len(line.encode()[:col_bytes].decode(errors="ignore"))

    def span(self, node: ast.AST) -> tuple[int, int]:
        return (self.offset(node.lineno, node.col_offset),  # type: ignore[attr-defined]
                self.offset(node.end_lineno, node.end_col_offset))  # type: ignore[attr-defined]

    def segment(self, node: ast.AST) -> str:
        start, end = self.span(node)
        return self.text[start:end]

    def replace_node(self, node: ast.AST, new: ast.AST) -> str:
        code = ast.unparse(new)
        if isinstance(new, _LOOSE) and isinstance(self.parents.get(node), (*_LOOSE, ast.Attribute,
                                                                           ast.Subscript, ast.Call)):
            code = f"({code})"
        start, end = self.span(node)
        return self.text[:start] + code + self.text[end:]

    def line_block(self, stmt: ast.stmt) -> tuple[int, int]:
        """Text offsets of the full lines a statement occupies (decorators included)."""
        first = min([stmt.lineno, *(d.lineno for d in getattr(stmt, "decorator_list", []))])
        return self.line_starts[first - 1], self.line_starts[stmt.end_lineno]  # type: ignore[index]

    def indent_of(self, stmt: ast.stmt) -> str:
        line = self.lines[stmt.lineno - 1]
        return line[: len(line) - len(line.lstrip())]


def _compiles(text: str) -> bool:
    try:
        compile(text, "<mutant>", "exec")
    except (SyntaxError, ValueError):
        return False
    return True


def _copy_with(node: ast.AST, **changes: object) -> ast.AST:
    clone = type(node)(**{f: getattr(node, f) for f in node._fields})
    for key, value in changes.items():
        setattr(clone, key, value)
    return clone


def _expression_mutants(src: _Source, node: ast.AST) -> Iterator[tuple[str, str, str]]:
    """(operator, description, new text) for one expression node."""
    before = src.segment(node)

    def make(op: str, new: ast.AST) -> tuple[str, str, str]:
        return op, f"`{before}` → `{ast.unparse(new)}`", src.replace_node(node, new)

    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        for swap in _CMP_SWAPS.get(type(node.ops[0]), []):
            yield make("compare", _copy_with(node, ops=[swap()]))
    elif isinstance(node, ast.BinOp):
        for swap in _BINOP_SWAPS.get(type(node.op), []):
            yield make("binop", _copy_with(node, op=swap()))
        yield make("operand", node.left)
        yield make("operand", node.right)
    elif isinstance(node, ast.BoolOp):
        flipped = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        yield make("boolop", _copy_with(node, op=flipped))
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.USub, ast.Invert)):
        yield make("unary", node.operand)
    elif isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool):
            yield make("constant", ast.Constant(not value))
        elif isinstance(value, int | float):
            for new in dict.fromkeys([value + 1, value - 1, 0, 1, -value]):
                if new != value:
                    yield make("constant", ast.Constant(new))
    elif isinstance(node, ast.AugAssign):
        for swap in _BINOP_SWAPS.get(type(node.op), []):
            yield make("binop", _copy_with(node, op=swap()))


def _tests_of(src: _Source, line: int) -> Iterator[ast.expr]:
    """Conditions that start on `line`: if/while/assert/ternary tests."""
    for node in ast.walk(src.tree):
        if isinstance(node, ast.If | ast.While | ast.IfExp | ast.Assert) and node.test.lineno == line:
            yield node.test


def _scope_names(src: _Source, line: int) -> list[str]:
    """Names bound in the innermost function enclosing `line` (or the module)."""
    scope: ast.AST = src.tree
    for node in ast.walk(src.tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and \
                node.lineno <= line <= (node.end_lineno or node.lineno):
            scope = node
    names: dict[str, None] = {}
    if isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef):
        for arg in [*scope.args.posonlyargs, *scope.args.args, *scope.args.kwonlyargs]:
            names[arg.arg] = None
    for node in ast.walk(scope):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names[node.id] = None
    return list(names)


def _statements(src: _Source) -> list[tuple[ast.stmt, list[ast.stmt]]]:
    """Every statement with the body list that holds it."""
    out: list[tuple[ast.stmt, list[ast.stmt]]] = []
    for node in ast.walk(src.tree):
        for field in ("body", "orelse", "finalbody"):
            body = getattr(node, field, None)
            if isinstance(body, list):
                out.extend((stmt, body) for stmt in body if isinstance(stmt, ast.stmt))
    return out


def mutants_at(path: str, text: str, line: int, rng: random.Random) -> Iterator[Mutant]:
    """Every distinct, compilable single edit at `line` of `text`, cheapest operators first."""
    src = _Source(text)
    seen = {text}

    def emit(op: str, description: str, new_text: str) -> Iterator[Mutant]:
        if new_text not in seen and _compiles(new_text):
            seen.add(new_text)
            yield Mutant(path, line, op, f"{path}:{line}: {description}", new_text)

    on_line = [n for n in ast.walk(src.tree)
               if isinstance(n, ast.expr | ast.AugAssign) and getattr(n, "lineno", None) == line]
    # All nodes' operator swaps come before any operand removal, and so on down the list.
    expression_edits = sorted(
        (edit for node in on_line for edit in _expression_mutants(src, node)),
        key=lambda edit: _EXPRESSION_ORDER.index(edit[0]))
    for op, desc, new in expression_edits:
        yield from emit(op, desc, new)
    for test in _tests_of(src, line):
        negated = ast.UnaryOp(ast.Not(), test)
        yield from emit("negate", f"negate `{src.segment(test)}`", src.replace_node(test, negated))

    names = _scope_names(src, line)
    for node in on_line:
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            others = [n for n in names if n != node.id][:DEFAULT_NAME_SUBSTITUTES]
            for other in others:
                yield from emit("name", f"`{node.id}` → `{other}`",
                                src.replace_node(node, ast.Name(other, ast.Load())))

    statements = _statements(src)
    targets = [(s, body) for s, body in statements if s.lineno == line]
    for stmt, body in targets:
        start, end = src.line_block(stmt)
        yield from emit("delete", f"delete `{src.lines[stmt.lineno - 1].strip()}`",
                        src.text[:start] + src.indent_of(stmt) + "pass\n" + src.text[end:])
        index = body.index(stmt)
        if index + 1 < len(body):
            nxt = body[index + 1]
            n_start, n_end = src.line_block(nxt)
            # The gap between the two statements (blank lines, comments) stays between them.
            swapped = src.text[:start] + src.text[n_start:n_end] + src.text[end:n_start] \
                + src.text[start:end] + src.text[n_end:]
            yield from emit("swap", f"swap with line {nxt.lineno}", swapped)
        donors = [s for s, _ in statements
                  if s is not stmt and s.lineno == s.end_lineno
                  and not isinstance(s, ast.Import | ast.ImportFrom | ast.FunctionDef | ast.ClassDef)]
        donors.sort(key=lambda s: abs(s.lineno - line))
        nearest = donors[: DEFAULT_INSERTION_SOURCES * 2]
        rng.shuffle(nearest)
        for donor in sorted(nearest[:DEFAULT_INSERTION_SOURCES], key=lambda s: abs(s.lineno - line)):
            code = src.lines[donor.lineno - 1].strip()
            yield from emit("insert", f"insert `{code}` from line {donor.lineno}",
                            src.text[:start] + src.indent_of(stmt) + code + "\n" + src.text[start:])
