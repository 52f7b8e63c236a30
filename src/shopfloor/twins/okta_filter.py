"""Okta's filter/search expression language (SCIM-like), for `filter=` and `search=`.

    status eq "ACTIVE" and (profile.lastName eq "Smith" or profile.email sw "ops")

Operators: eq, ne, sw, co, gt, ge, lt, le, pr; `and`, `or` (Okta has no `not`)
and parentheses. String comparisons ignore case. Attribute paths are dotted (`profile.login`); values
are JSON-ish literals: "string", true/false, null, numbers. Errors raise
`FilterError` with Okta's message for E0000031 ("Invalid search criteria").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

_TOKEN = re.compile(r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<paren>[()])|(?P<word>[^\s()"]+))')
OPERATORS = {"eq", "ne", "sw", "co", "gt", "ge", "lt", "le", "pr"}

Predicate = Callable[[dict[str, Any]], bool]


class FilterError(ValueError):
    """An expression Okta rejects with 400 E0000031."""


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while text[pos:].strip():
        match = _TOKEN.match(text, pos)
        if not match:
            raise FilterError(f"Invalid search criteria: unexpected input at {pos + 1}")
        kind = match.lastgroup or "word"
        raw = match.group(kind)
        if kind == "str":
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        out.append((kind, raw))
        pos = match.end()
    return out


def lookup(record: dict[str, Any], path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        # Okta attribute names are case-insensitive in expressions.
        match = next((k for k in value if k.lower() == part.lower()), None)
        value = value.get(match) if match else None
    return value


def _literal(kind: str, raw: str) -> Any:
    if kind == "str":
        return raw
    low = raw.lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "null":
        return None
    try:
        return float(raw) if "." in raw else int(raw)
    except ValueError:
        raise FilterError(f"Invalid search criteria: value {raw!r} must be quoted") from None


def _compare(op: str, have: Any, want: Any) -> bool:
    if op == "pr":
        return have not in (None, "", [])
    if isinstance(have, list):
        return any(_compare(op, item, want) for item in have)
    if isinstance(have, str) and isinstance(want, str):
        have, want = have.lower(), want.lower()
    if op == "eq":
        return have == want
    if op == "ne":
        return have != want
    if have is None:
        return False
    if op == "sw":
        return str(have).startswith(str(want))
    if op == "co":
        return str(want) in str(have)
    try:
        return {"gt": have > want, "ge": have >= want, "lt": have < want, "le": have <= want}[op]
    except TypeError:
        return False


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.i = 0

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def _take(self) -> tuple[str, str]:
        token = self._peek()
        if token is None:
            raise FilterError("Invalid search criteria: the expression ends too early")
        self.i += 1
        return token

    def _keyword(self, word: str) -> bool:
        token = self._peek()
        if token is not None and token[0] == "word" and token[1].lower() == word:
            self.i += 1
            return True
        return False

    def parse(self) -> Predicate:
        predicate = self._or()
        if self._peek() is not None:
            raise FilterError(f"Invalid search criteria: unexpected {self._peek()[1]!r}")  # type: ignore[index]
        return predicate

    def _or(self) -> Predicate:
        parts = [self._and()]
        while self._keyword("or"):
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else (lambda r: any(p(r) for p in parts))

    def _and(self) -> Predicate:
        parts = [self._atom()]
        while self._keyword("and"):
            parts.append(self._atom())
        return parts[0] if len(parts) == 1 else (lambda r: all(p(r) for p in parts))

    def _atom(self) -> Predicate:
        if self._peek() == ("paren", "("):
            self.i += 1
            inner = self._or()
            if self._take() != ("paren", ")"):
                raise FilterError("Invalid search criteria: missing ')'")
            return inner
        kind, attr = self._take()
        if kind != "word":
            raise FilterError(f"Invalid search criteria: expected an attribute, got {attr!r}")
        _, op = self._take()
        op = op.lower()
        if op not in OPERATORS:
            raise FilterError(f"Invalid search criteria: unknown operator {op!r}")
        if op == "pr":
            return lambda r: _compare("pr", lookup(r, attr), None)
        value = _literal(*self._take())
        return lambda r: _compare(op, lookup(r, attr), value)


def compile_filter(text: str) -> Predicate:
    return _Parser(text).parse()
