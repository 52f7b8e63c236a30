"""The model stylesheet (attractor-spec section 8): CSS-like LLM defaults per node.

    Stylesheet  ::= Rule*
    Rule        ::= Selector '{' Declaration ( ';' Declaration )* ';'? '}'
    Selector    ::= '*' | ShapeName | '#' NodeId | '.' ClassName
    Declaration ::= ('llm_model' | 'llm_provider' | 'reasoning_effort') ':' (String | BareValue)

Specificity: `*` 0 < shape 1 < `.class` 2 < `#id` 3; among equals the later
rule wins. `/* */` comments are allowed. Applying a stylesheet never overrides
a property the node sets itself (8.5).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from shopfloor.errors import UserError
from shopfloor.pipeline.graph import Node

SelectorKind = Literal["universal", "shape", "class", "id"]

PROPERTIES: tuple[str, ...] = ("llm_model", "llm_provider", "reasoning_effort")
REASONING_EFFORTS: tuple[str, ...] = ("low", "medium", "high")
SPECIFICITY: dict[SelectorKind, int] = {"universal": 0, "shape": 1, "class": 2, "id": 3}

_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CLASS_RE = re.compile(r"[A-Za-z0-9_-]+")
_BARE_RE = re.compile(r"[A-Za-z0-9_.:/@+-]+")


class StylesheetSyntaxError(UserError):
    """A model_stylesheet that does not parse; line and column are within the stylesheet text."""

    def __init__(self, what: str, *, line: int, column: int, fix: str) -> None:
        self.lineno = line
        self.column = column
        super().__init__(f"model_stylesheet line {line}, column {column}: {what}", fix=fix)


@dataclass(frozen=True)
class Selector:
    kind: SelectorKind
    value: str = ""

    @property
    def specificity(self) -> int:
        return SPECIFICITY[self.kind]

    def matches(self, node: Node) -> bool:
        if self.kind == "universal":
            return True
        if self.kind == "shape":
            return node.shape == self.value
        if self.kind == "class":
            return self.value in node.classes
        return node.id == self.value

    def __str__(self) -> str:
        prefix = {"universal": "*", "shape": "", "class": ".", "id": "#"}[self.kind]
        return prefix + self.value


@dataclass(frozen=True)
class StyleRule:
    selector: Selector
    declarations: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Stylesheet:
    rules: tuple[StyleRule, ...]

    def resolve(self, node: Node) -> dict[str, str]:
        """The properties the stylesheet gives `node`: highest specificity, then latest rule, wins."""
        chosen: dict[str, tuple[int, int, str]] = {}
        for order, rule in enumerate(self.rules):
            if not rule.selector.matches(node):
                continue
            rank = rule.selector.specificity
            for prop, value in rule.declarations:
                current = chosen.get(prop)
                if current is None or (rank, order) >= current[:2]:
                    chosen[prop] = (rank, order, value)
        return {prop: value for prop, (_, _, value) in chosen.items()}


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def error(self, what: str, fix: str, pos: int | None = None) -> StylesheetSyntaxError:
        pos = self.pos if pos is None else pos
        line = self.text.count("\n", 0, pos) + 1
        column = pos - (self.text.rfind("\n", 0, pos) + 1) + 1
        return StylesheetSyntaxError(what, line=line, column=column, fix=fix)

    def found(self) -> str:
        return repr(self.text[self.pos]) if self.pos < len(self.text) else "end of stylesheet"

    def skip(self) -> None:
        while self.pos < len(self.text):
            if self.text[self.pos].isspace():
                self.pos += 1
            elif self.text.startswith("/*", self.pos):
                end = self.text.find("*/", self.pos + 2)
                if end < 0:
                    raise self.error("unterminated /* comment", "close it with */")
                self.pos = end + 2
            else:
                return

    def accept(self, token: str) -> bool:
        self.skip()
        if self.text.startswith(token, self.pos):
            self.pos += len(token)
            return True
        return False

    def match(self, pattern: re.Pattern[str]) -> str | None:
        self.skip()
        m = pattern.match(self.text, self.pos)
        if not m:
            return None
        self.pos = m.end()
        return m.group(0)


def _selector(s: _Scanner) -> Selector:
    if s.accept("*"):
        return Selector("universal")
    if s.accept("#"):
        ident = s.match(_IDENT_RE)
        if ident is None:
            raise s.error(f"expected a node id after '#', found {s.found()}", "write #node_id")
        return Selector("id", ident)
    if s.accept("."):
        cls = s.match(_CLASS_RE)
        if cls is None:
            raise s.error(f"expected a class name after '.', found {s.found()}", "write .class-name")
        return Selector("class", cls)
    shape = s.match(_IDENT_RE)
    if shape is None:
        raise s.error(f"expected a selector, found {s.found()}",
                      "selectors are *, a shape name, #id or .class")
    return Selector("shape", shape)


def _value(s: _Scanner) -> str:
    s.skip()
    if s.text.startswith('"', s.pos):
        start = s.pos
        end = s.text.find('"', s.pos + 1)
        if end < 0:
            raise s.error("unterminated string", 'close it with "', start)
        s.pos = end + 1
        return s.text[start + 1:end]
    value = s.match(_BARE_RE)
    if value is None:
        raise s.error(f"expected a value, found {s.found()}", "write property: value;")
    return value


def _declaration(s: _Scanner) -> tuple[str, str]:
    start = s.pos
    prop = s.match(_IDENT_RE)
    if prop is None:
        raise s.error(f"expected a property, found {s.found()}", f"properties are {', '.join(PROPERTIES)}")
    if prop not in PROPERTIES:
        raise s.error(f"unknown property {prop!r}", f"properties are {', '.join(PROPERTIES)}", start)
    if not s.accept(":"):
        raise s.error(f"expected ':' after {prop}, found {s.found()}", f"write {prop}: value;")
    s.skip()
    value_pos = s.pos
    value = _value(s)
    if prop == "reasoning_effort" and value not in REASONING_EFFORTS:
        raise s.error(f"reasoning_effort {value!r} is not one of {', '.join(REASONING_EFFORTS)}",
                      "use low, medium or high", value_pos)
    return prop, value


@lru_cache(maxsize=256)
def parse_stylesheet(text: str) -> Stylesheet:
    """Parse stylesheet text; raises StylesheetSyntaxError (a UserError) with line and column."""
    s = _Scanner(text)
    rules: list[StyleRule] = []
    while True:
        s.skip()
        if s.pos >= len(text):
            return Stylesheet(tuple(rules))
        selector = _selector(s)
        if not s.accept("{"):
            raise s.error(f"expected '{{' after selector {selector}, found {s.found()}",
                          "write selector { property: value; }")
        declarations: list[tuple[str, str]] = []
        while not s.accept("}"):
            s.skip()
            if s.pos >= len(text):
                raise s.error("unclosed '{'", "add the missing }")
            declarations.append(_declaration(s))
            if not s.accept(";") and not s.text.startswith("}", s.pos):
                raise s.error(f"expected ';' or '}}', found {s.found()}", "separate declarations with ;")
        rules.append(StyleRule(selector, tuple(declarations)))
