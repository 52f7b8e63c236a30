"""The edge condition language (attractor-spec section 10).

    ConditionExpr ::= Clause ( '&&' Clause )*
    Clause        ::= Key ( ( '=' | '!=' ) Literal )?
    Key           ::= 'outcome' | 'preferred_label' | 'context.' Path | Path
    Literal       ::= String | Integer | Boolean | BareLiteral

Conditions are parsed once into a `Condition` (cached per expression string) and
then evaluated against an Outcome and a Context. The parser is a real tokenizer
rather than the spec's `split("&&")`/`contains("!=")` sketch, so quoted literals
may contain `&&`, `=` or `!=` without changing the meaning of the expression.

Comparison is on strings, exact and case-sensitive. Booleans in the context are
rendered as `true`/`false` (the DOT spelling), so `context.ok=true` matches a
handler that stored the Python value `True`. A bare key (no operator) is true
when its value is non-empty and not `false` or `0`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, Protocol

from shopfloor.errors import UserError

Operator = Literal["=", "!=", "truthy"]

#: Values a bare-key clause treats as false (besides the empty string).
FALSY_VALUES: frozenset[str] = frozenset({"", "false", "0"})

_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_BARE_LITERAL_RE = re.compile(r"[A-Za-z0-9_.:+-]+")
_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}


class ConditionSyntaxError(UserError):
    """A condition expression that does not parse; `column` is 1-based within the expression."""

    def __init__(self, what: str, *, expression: str, column: int, fix: str) -> None:
        self.expression = expression
        self.column = column
        super().__init__(f"bad condition {expression!r}: {what} (column {column})", fix=fix)


@dataclass(frozen=True)
class Clause:
    key: str
    op: Operator
    literal: str = ""

    def __str__(self) -> str:
        if self.op == "truthy":
            return self.key
        return f"{self.key}{self.op}{quote_literal(self.literal)}"


@dataclass(frozen=True)
class Condition:
    """A parsed expression: all clauses must hold. No clauses means always true."""

    clauses: tuple[Clause, ...]

    def __str__(self) -> str:
        return " && ".join(str(c) for c in self.clauses)

    @property
    def keys(self) -> list[str]:
        return [c.key for c in self.clauses]


class _Outcomeish(Protocol):
    @property
    def status(self) -> Any: ...
    @property
    def preferred_label(self) -> str: ...


class _Lookup(Protocol):
    def get(self, key: str, default: Any = None) -> Any: ...


def quote_literal(value: str) -> str:
    """Write a literal back so that `parse_condition` reads the same string."""
    if value and _BARE_LITERAL_RE.fullmatch(value):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def error(self, what: str, fix: str, pos: int | None = None) -> ConditionSyntaxError:
        return ConditionSyntaxError(what, expression=self.text, column=(self.pos if pos is None else pos) + 1,
                                    fix=fix)

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def startswith(self, token: str) -> bool:
        return self.text.startswith(token, self.pos)

    def key(self) -> str:
        match = _KEY_RE.match(self.text, self.pos)
        if not match:
            found = self.text[self.pos:self.pos + 1] or "end of expression"
            raise self.error(f"expected a key, found {found!r}",
                             "start each clause with outcome, preferred_label or context.<name>")
        self.pos = match.end()
        return match.group(0)

    def literal(self) -> str:
        if self.startswith('"'):
            return self.quoted()
        match = _BARE_LITERAL_RE.match(self.text, self.pos)
        if not match:
            found = self.text[self.pos:self.pos + 1] or "end of expression"
            fix = ("use a single = for equality" if found == "=" else
                   'quote the value, e.g. context.x="some value" (use "" for empty)')
            raise self.error(f"expected a value, found {found!r}", fix)
        self.pos = match.end()
        return match.group(0)

    def quoted(self) -> str:
        start = self.pos
        self.pos += 1
        out: list[str] = []
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if ch == '"':
                self.pos += 1
                return "".join(out)
            if ch == "\\" and self.pos + 1 < len(self.text):
                nxt = self.text[self.pos + 1]
                out.append(_ESCAPES.get(nxt, "\\" + nxt))
                self.pos += 2
                continue
            out.append(ch)
            self.pos += 1
        raise self.error("unterminated string", 'close the string with "', start)


@lru_cache(maxsize=4096)
def parse_condition(expr: str) -> Condition:
    """Parse an expression; raises ConditionSyntaxError (a UserError) with the column."""
    scanner = _Scanner(expr)
    clauses: list[Clause] = []
    scanner.skip_space()
    if scanner.at_end():
        return Condition(())
    while True:
        scanner.skip_space()
        key = scanner.key()
        scanner.skip_space()
        if scanner.startswith("!="):
            scanner.pos += 2
            op: Operator = "!="
        elif scanner.startswith("=="):
            raise scanner.error("'==' is not an operator", "use a single = for equality")
        elif scanner.startswith("="):
            scanner.pos += 1
            op = "="
        else:
            op = "truthy"
        literal = ""
        if op != "truthy":
            scanner.skip_space()
            literal = scanner.literal()
        clauses.append(Clause(key, op, literal))
        scanner.skip_space()
        if scanner.at_end():
            return Condition(tuple(clauses))
        if not scanner.startswith("&&"):
            found = scanner.text[scanner.pos]
            fix = ("only = and != with && are supported (attractor-spec 10.2)" if found in "<>|!" else
                   "join clauses with &&, and quote values that contain spaces")
            raise scanner.error(f"unexpected {found!r}", fix)
        scanner.pos += 2


def condition_error(expr: str) -> ConditionSyntaxError | None:
    """The syntax error of `expr`, or None when it parses (for lint)."""
    try:
        parse_condition(expr)
    except ConditionSyntaxError as exc:
        return exc
    return None


def _stringify(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def resolve_key(key: str, outcome: _Outcomeish | None, context: _Lookup | Mapping[str, Any] | None) -> str:
    """attractor-spec 10.4: outcome, preferred_label, then context (with and without `context.`)."""
    if key == "outcome":
        if outcome is None:
            return ""
        status = outcome.status
        return str(getattr(status, "value", status))
    if key == "preferred_label":
        return "" if outcome is None else (outcome.preferred_label or "")
    if context is None:
        return ""
    value = context.get(key)
    if value is None and key.startswith("context."):
        value = context.get(key[len("context."):])
    return _stringify(value)


def evaluate_parsed(condition: Condition, outcome: _Outcomeish | None,
                    context: _Lookup | Mapping[str, Any] | None) -> bool:
    for clause in condition.clauses:
        actual = resolve_key(clause.key, outcome, context)
        if clause.op == "=":
            ok = actual == clause.literal
        elif clause.op == "!=":
            ok = actual != clause.literal
        else:
            ok = actual not in FALSY_VALUES
        if not ok:
            return False
    return True


def evaluate_condition(expr: str | None, outcome: _Outcomeish | None,
                       context: _Lookup | Mapping[str, Any] | None) -> bool:
    """attractor-spec 10.5: empty means always eligible; raises ConditionSyntaxError if malformed.

    Validation (the `condition_syntax` lint rule) rejects malformed conditions
    before a run starts, so the engine only meets valid ones.
    """
    if not expr or not expr.strip():
        return True
    return evaluate_parsed(parse_condition(expr), outcome, context)
