"""A JQL subset: parse → AST → evaluate against issues, with Jira's error messages.

Supported: `field op value` clauses with = != ~ !~ > >= < <= IN, NOT IN, IS
[NOT] EMPTY/NULL; AND, OR, NOT and parentheses (AND binds tighter); quoted or
bare values, value lists `(a, b)`, the function `currentUser()`; and
`ORDER BY field [ASC|DESC], ...`. What a field means (its values, how it sorts,
which operators it takes) is supplied by the caller through `JqlFields`, so the
language stays independent of the Jira twin's data model.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

KEYWORDS = {"AND", "OR", "NOT", "IN", "IS", "EMPTY", "NULL", "ORDER", "BY", "ASC", "DESC"}
_TOKEN = re.compile(
    r"""\s*(?:(?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|(?P<op>!=|!~|>=|<=|=|~|>|<)
                    |(?P<punct>[(),])|(?P<word>[^\s"'(),=!~<>]+))""",
    re.VERBOSE,
)


class JqlError(ValueError):
    """A query Jira would reject with HTTP 400; the message is Jira's wording."""


@dataclass
class Token:
    kind: str  # str, op, punct, word
    text: str
    pos: int

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == "word" else ""


@dataclass
class Value:
    text: str | None  # None for EMPTY/NULL
    function: str | None = None


@dataclass
class Clause:
    field: str
    op: str
    values: list[Value]


@dataclass
class BoolOp:
    op: str  # AND, OR, NOT
    args: list[Any]


@dataclass
class Query:
    where: Clause | BoolOp | None
    order_by: list[tuple[str, bool]] = field(default_factory=list)  # (field, descending)


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise JqlError(
                f"Error in the JQL Query: The character '{text[pos]}' is a reserved JQL character. "
                f"(line 1, character {pos + 1})"
            )
        kind = match.lastgroup or "word"
        raw = match.group(kind)
        start = match.start(kind)
        if kind == "str":
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        tokens.append(Token(kind, raw, start))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    def peek(self) -> Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise JqlError("Error in the JQL Query: Expecting more input at the end of the query.")
        self.i += 1
        return token

    def error(self, expecting: str, token: Token | None) -> JqlError:
        if token is None:
            return JqlError(
                f"Error in the JQL Query: Expecting {expecting} but reached the end of the query."
            )
        return JqlError(
            f"Error in the JQL Query: Expecting {expecting} but got '{token.text}'. "
            f"(line 1, character {token.pos + 1})"
        )

    def keyword(self, *words: str) -> bool:
        token = self.peek()
        if token is not None and token.upper in words:
            self.i += 1
            return True
        return False

    def parse(self) -> Query:
        where = None
        if self.peek() is not None and self.peek().upper != "ORDER":  # type: ignore[union-attr]
            where = self.or_expr()
        order: list[tuple[str, bool]] = []
        if self.keyword("ORDER"):
            if not self.keyword("BY"):
                raise self.error("'BY'", self.peek())
            while True:
                name = self.take()
                if name.kind not in ("word", "str"):
                    raise self.error("a field name", name)
                descending = False
                if self.keyword("DESC"):
                    descending = True
                else:
                    self.keyword("ASC")
                order.append((name.text, descending))
                if not self._punct(","):
                    break
        if self.peek() is not None:
            raise self.error("either 'OR' or 'AND'", self.peek())
        return Query(where, order)

    def _punct(self, char: str) -> bool:
        token = self.peek()
        if token is not None and token.kind == "punct" and token.text == char:
            self.i += 1
            return True
        return False

    def or_expr(self) -> Any:
        args = [self.and_expr()]
        while self.keyword("OR"):
            args.append(self.and_expr())
        return args[0] if len(args) == 1 else BoolOp("OR", args)

    def and_expr(self) -> Any:
        args = [self.not_expr()]
        while self.keyword("AND"):
            args.append(self.not_expr())
        return args[0] if len(args) == 1 else BoolOp("AND", args)

    def not_expr(self) -> Any:
        if self.keyword("NOT"):
            return BoolOp("NOT", [self.not_expr()])
        if self._punct("("):
            inner = self.or_expr()
            if not self._punct(")"):
                raise self.error("')'", self.peek())
            return inner
        return self.clause()

    def clause(self) -> Clause:
        name = self.take()
        if name.kind not in ("word", "str") or name.upper in KEYWORDS:
            raise self.error("a field name", name)
        token = self.take()
        if token.kind == "op":
            op = token.text
        elif token.upper == "IN":
            op = "IN"
        elif token.upper == "NOT" and self.keyword("IN"):
            op = "NOT IN"
        elif token.upper == "IS":
            op = "IS NOT" if self.keyword("NOT") else "IS"
        else:
            raise self.error("operator", token)
        if op in ("IS", "IS NOT"):
            if not self.keyword("EMPTY", "NULL"):
                raise self.error("'EMPTY' or 'NULL'", self.peek())
            return Clause(name.text, op, [Value(None)])
        if op in ("IN", "NOT IN"):
            if not self._punct("("):
                raise self.error("'('", self.peek())
            values = [self.value()]
            while self._punct(","):
                values.append(self.value())
            if not self._punct(")"):
                raise self.error("')'", self.peek())
            return Clause(name.text, op, values)
        return Clause(name.text, op, [self.value()])

    def value(self) -> Value:
        token = self.take()
        if token.kind == "str":
            return Value(token.text)
        if token.kind != "word" or token.upper in KEYWORDS - {"EMPTY", "NULL"}:
            raise JqlError(
                f"Error in the JQL Query: Expecting either a value, list or function but got "
                f"'{token.text}'. You must surround '{token.text}' in quotation marks to use it "
                f"as a value. (line 1, character {token.pos + 1})"
            )
        if token.upper in ("EMPTY", "NULL"):
            return Value(None)
        if self._punct("("):
            if not self._punct(")"):
                raise self.error("')'", self.peek())
            return Value(None, function=token.text)
        return Value(token.text)


def parse_jql(text: str) -> Query:
    return _Parser(text).parse()


class JqlFields(Protocol):
    """What the issue store tells the evaluator about its fields."""

    def check(self, field: str, op: str, values: list[Value]) -> None:
        """Raise JqlError for an unknown field, unsupported operator or unknown value."""

    def values(self, issue: Any, field: str) -> list[str]:
        """The issue's values for `field`, lower-cased (several names may denote one value)."""

    def text(self, issue: Any, field: str) -> str:
        """Text searched by `~`."""

    def sort_value(self, issue: Any, field: str) -> Any:
        """Comparable value for ORDER BY and for > >= < <= (None sorts last)."""

    def literal(self, field: str, value: Value) -> Any:
        """A literal as comparable with sort_value (functions resolved)."""


def _compare(op: str) -> Callable[[Any, Any], bool]:
    return {
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
    }[op]


def validate(node: Any, fields: JqlFields) -> None:
    if isinstance(node, BoolOp):
        for arg in node.args:
            validate(arg, fields)
    elif isinstance(node, Clause):
        fields.check(node.field, node.op, node.values)


def compile_where(node: Any, fields: JqlFields) -> Callable[[Any], bool]:
    """The WHERE clause as a predicate over issues; literals are resolved once, not per issue."""
    if node is None:
        return lambda issue: True
    if isinstance(node, BoolOp):
        parts = [compile_where(arg, fields) for arg in node.args]
        if node.op == "AND":
            return lambda issue: all(p(issue) for p in parts)
        if node.op == "OR":
            return lambda issue: any(p(issue) for p in parts)
        return lambda issue: not parts[0](issue)
    name, op = node.field, node.op
    if op in ("IS", "IS NOT"):
        empty = op == "IS"
        return lambda issue: (not fields.values(issue, name)) == empty
    if op in ("~", "!~"):
        needle = str(node.values[0].text or "").lower().strip("*")
        contains = op == "~"
        return lambda issue: (needle in fields.text(issue, name).lower()) == contains
    if op in (">", ">=", "<", "<="):
        compare, bound = _compare(op), fields.literal(name, node.values[0])

        def ordered(issue: Any) -> bool:
            mine = fields.sort_value(issue, name)
            return mine is not None and compare(mine, bound)

        return ordered
    wanted = {
        str(fields.literal(name, v)).lower() if v.function else str(v.text).lower()
        for v in node.values
        if v.text or v.function
    }
    wants_empty = any(v.text is None and not v.function for v in node.values)
    positive = op in ("=", "IN")

    def equals(issue: Any) -> bool:
        have = fields.values(issue, name)
        hit = any(v in wanted for v in have) or (not have and wants_empty)
        # Like Jira, != and NOT IN never match an empty field.
        return hit if positive else not hit and bool(have)

    return equals


def sort_issues(issues: list[Any], order_by: list[tuple[str, bool]], fields: JqlFields) -> list[Any]:
    """Stable multi-key sort; empty values sort last whatever the direction, as in Jira."""
    out = list(issues)
    for name, descending in reversed(order_by):
        keyed = [(fields.sort_value(i, name), i) for i in out]
        present = [pair for pair in keyed if pair[0] is not None]
        present.sort(key=lambda pair: pair[0], reverse=descending)
        out = [i for _, i in present] + [i for key, i in keyed if key is None]
    return out
