"""The DOT subset parser (attractor-spec section 2): source text → Graph.

A hand-written recursive-descent parser over the characters, so every error
can say exactly where it is (file:line:col) and how to fix it. What it does
beyond reading the grammar of 2.2:

- `node [...]` / `edge [...]` defaults apply to later declarations in their
  scope; a subgraph gets a copy of its parent's defaults (2.10, 2.11).
- Subgraphs are flattened. A subgraph's `label` becomes a class on every node
  declared inside it (`"Loop A"` → `loop-a`), for stylesheet selectors (2.10).
- `A -> B -> C [attrs]` becomes one edge per pair, each with the attrs (2.9).
- Values are typed by their syntax, then the spec's typed attributes are
  coerced (see `attributes.py`).
- Edges do not declare nodes: an edge to an undeclared id is kept as written
  and reported by the `edge_target_exists` lint rule, so a typo in a target is
  caught instead of silently becoming a new stage.
"""

from __future__ import annotations

import itertools
import re
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any

from shopfloor.errors import UserError
from shopfloor.pipeline.attributes import Scope, coerce
from shopfloor.pipeline.graph import Duration, Edge, Graph, Node, SourceLoc

#: Deepest subgraph nesting accepted; deeper input is almost surely generated garbage.
DEFAULT_MAX_SUBGRAPH_DEPTH = 64

_ID_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_WORD_RE = re.compile(r"[^\s,;\[\]{}=\"]+")
_INT_RE = re.compile(r"-?[0-9]+")
_FLOAT_RE = re.compile(r"-?[0-9]*\.[0-9]+")
_BARE_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.:-]*")
_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}
_TRIVIA_RE = re.compile(r"(?:\s+|//[^\n]*|/\*.*?\*/)*", re.S)
_STRING_RE = re.compile(r'"((?:[^"\\]|\\.)*)"', re.S)
_ESCAPE_RE = re.compile(r"\\(.)", re.S)
_KEYWORDS = frozenset({"digraph", "graph", "node", "edge", "subgraph", "strict"})


class DotSyntaxError(UserError):
    """Malformed DOT: what is wrong, at file:line:col, and how to fix it."""

    def __init__(self, what: str, *, loc: SourceLoc, fix: str) -> None:
        self.loc = loc
        self.lineno = loc.line
        self.column = loc.col
        super().__init__(what, where=str(loc), fix=fix)


@dataclass
class _Value:
    value: Any
    raw: str
    loc: SourceLoc


@dataclass
class _Scope:
    node_defaults: dict[str, _Value] = field(default_factory=dict)
    edge_defaults: dict[str, _Value] = field(default_factory=dict)
    attrs: dict[str, _Value] = field(default_factory=dict)
    members: list[str] = field(default_factory=list)

    def child(self) -> _Scope:
        return _Scope(dict(self.node_defaults), dict(self.edge_defaults))


def _unescape(m: re.Match[str]) -> str:
    return _ESCAPES.get(m.group(1), m.group(0))


def derive_class(label: str) -> str:
    """attractor-spec 2.10: lowercase, spaces → hyphens, drop all but [a-z0-9-]."""
    return re.sub(r"[^a-z0-9-]", "", label.lower().replace(" ", "-"))


def _typed(scope: Scope, key: str, value: _Value) -> Any:
    return coerce(scope, key, value.value, value.raw)


class _Parser:
    def __init__(self, source: str, filename: str, max_depth: int) -> None:
        self.text = source[1:] if source.startswith("\ufeff") else source
        self.filename = filename
        self.max_depth = max_depth
        self.pos = 0
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", self.text)]
        self.graph = Graph(name="", filename=filename)

    # -- positions and errors -------------------------------------------------
    def loc(self, pos: int | None = None) -> SourceLoc:
        pos = self.pos if pos is None else pos
        index = bisect_right(self._line_starts, pos) - 1
        return SourceLoc(self.filename, index + 1, pos - self._line_starts[index] + 1)

    def error(self, what: str, fix: str, pos: int | None = None) -> DotSyntaxError:
        return DotSyntaxError(what, loc=self.loc(pos), fix=fix)

    def found(self) -> str:
        if self.pos >= len(self.text):
            return "end of file"
        word = _WORD_RE.match(self.text, self.pos)
        return repr(word.group(0)[:30] if word else self.text[self.pos])

    # -- lexical helpers -------------------------------------------------------
    def skip(self) -> None:
        """Skip whitespace and `//` / `/* */` comments."""
        if self.pos < len(self.text) and self.text[self.pos] != "/" and not self.text[self.pos].isspace():
            return  # the common case, called before every token: no regex needed
        trivia = _TRIVIA_RE.match(self.text, self.pos)
        assert trivia is not None  # the pattern matches the empty string
        self.pos = trivia.end()
        if self.text.startswith("/*", self.pos):
            raise self.error("unterminated /* comment", "close the comment with */")

    def peek(self, token: str) -> bool:
        self.skip()
        return self.text.startswith(token, self.pos)

    def accept(self, token: str) -> bool:
        if self.peek(token):
            self.pos += len(token)
            return True
        return False

    def expect(self, token: str, fix: str) -> None:
        if not self.accept(token):
            raise self.error(f"expected {token!r}, found {self.found()}", fix)

    def match(self, pattern: re.Pattern[str]) -> str | None:
        self.skip()
        m = pattern.match(self.text, self.pos)
        if not m:
            return None
        self.pos = m.end()
        return m.group(0)

    def node_id(self, context: str) -> tuple[str, int]:
        self.skip()
        start = self.pos
        if self.peek('"'):
            raise self.error(f"quoted node id in {context}", "node ids are bare identifiers like plan_step;"
                             ' put the display name in label="..."')
        ident = self.match(_ID_RE)
        if ident is None or ident in _KEYWORDS:
            raise self.error(f"expected a node id in {context}, found {self.found()}",
                             "node ids match [A-Za-z_][A-Za-z0-9_]*", start)
        return ident, start

    # -- grammar ---------------------------------------------------------------
    def parse(self) -> Graph:
        self.skip()
        start = self.pos
        word = self.match(_ID_RE)
        if word == "strict":
            raise self.error("'strict' graphs are not supported", "remove 'strict'", start)
        if word == "graph":
            raise self.error("undirected graphs are not supported", "write 'digraph' instead of 'graph'",
                             start)
        if word != "digraph":
            raise self.error(f"expected 'digraph', found {word!r}" if word else
                             f"expected 'digraph', found {self.found()}",
                             "a pipeline file holds one graph: digraph Name { ... }", start)
        if self.peek('"'):
            raise self.error("quoted graph name",
                             "name the graph with a bare identifier: digraph my_pipeline {")
        name = self.match(_ID_RE)
        self.graph.name = name or ""
        self.skip()
        open_pos = self.pos
        self.expect("{", "open the graph body with {")
        self.statements(_Scope(), open_pos, depth=0, root=True)
        self.skip()
        if self.pos < len(self.text):
            rest = _ID_RE.match(self.text, self.pos)
            if rest and rest.group(0) in ("digraph", "graph", "strict"):
                raise self.error("more than one graph in the file", "put each pipeline in its own .dot file")
            raise self.error(f"unexpected {self.found()} after the closing }}",
                             "remove it, or move it inside the graph body")
        return self.graph

    def statements(self, scope: _Scope, open_pos: int, depth: int, root: bool) -> None:
        while True:
            self.skip()
            if self.pos >= len(self.text):
                raise self.error("unclosed '{': the file ended before its '}'", "add the missing }", open_pos)
            if self.accept("}"):
                return
            if self.accept(";"):
                continue
            self.statement(scope, depth, root)

    def statement(self, scope: _Scope, depth: int, root: bool) -> None:
        start = self.pos
        if self.peek('"'):
            raise self.error("quoted node id", "node ids are bare identifiers like plan_step;"
                             ' put the display name in label="..."')
        key = self.match(_KEY_RE)
        if key is None:
            fix = ("anonymous { } blocks are not supported; use subgraph name { ... }" if self.peek("{") else
                   "statements are node declarations, edges (a -> b), attr blocks or key=value")
            raise self.error(f"unexpected {self.found()}", fix)
        if key in ("graph", "node", "edge") and self.peek("["):
            block = self.attr_block()
            if key == "graph":
                self.set_graph_attrs(scope, block, root)
            else:
                (scope.node_defaults if key == "node" else scope.edge_defaults).update(block)
            return
        if key == "subgraph":
            self.subgraph(scope, depth)
            return
        if key in ("digraph", "strict"):
            raise self.error("a graph inside a graph", "one digraph per file; use subgraph for groups", start)
        if self.accept("="):
            self.set_graph_attrs(scope, {key: self.value()}, root)
            return
        if "." in key or key in _KEYWORDS:
            fix = f"write {key}=value" if "." in key else f"{key!r} is a keyword; write {key} [ ... ]"
            raise self.error(f"expected '=' after {key!r}, found {self.found()}", fix)
        if self.peek("--"):
            raise self.error("undirected edge '--'", "pipelines are directed: use ->")
        if self.peek(":"):
            raise self.error("node ports are not supported", "connect nodes by id only: a -> b")
        if self.peek("->"):
            self.edge_chain(scope, key, start)
        else:
            self.node_stmt(scope, key, start)

    def subgraph(self, scope: _Scope, depth: int) -> None:
        if depth + 1 > self.max_depth:
            raise self.error(f"subgraphs nested deeper than {self.max_depth}", "flatten the nesting")
        self.match(_ID_RE)  # the name is optional and has no meaning beyond readability
        self.skip()
        open_pos = self.pos
        self.expect("{", "a subgraph needs a body: subgraph name { ... }")
        child = scope.child()
        self.statements(child, open_pos, depth + 1, root=False)
        label = child.attrs.get("label")
        cls = derive_class(str(label.value)) if label is not None else ""
        for node_id in dict.fromkeys(child.members):
            if cls:
                self.add_class(self.graph.nodes[node_id], cls, label.loc if label else None)
            scope.members.append(node_id)

    @staticmethod
    def add_class(node: Node, cls: str, loc: SourceLoc | None) -> None:
        classes = [c.strip() for c in str(node.attrs.get("class", "")).split(",") if c.strip()]
        if cls not in classes:
            node.attrs["class"] = ",".join([*classes, cls])
            if loc is not None:
                node.attr_locs.setdefault("class", loc)

    def set_graph_attrs(self, scope: _Scope, block: dict[str, _Value], root: bool) -> None:
        scope.attrs.update(block)
        if root:
            for key, value in block.items():
                self.graph.attrs[key] = _typed("graph", key, value)
                self.graph.attr_locs[key] = value.loc

    def node_stmt(self, scope: _Scope, node_id: str, start: int) -> None:
        block = self.attr_block() if self.peek("[") else {}
        node = self.graph.nodes.get(node_id)
        if node is None:
            node = Node(node_id, loc=self.loc(start))
            self.graph.nodes[node_id] = node
            block = {**scope.node_defaults, **block}
        for key, value in block.items():
            node.attrs[key] = _typed("node", key, value)
            node.attr_locs[key] = value.loc
        scope.members.append(node_id)

    def edge_chain(self, scope: _Scope, first: str, start: int) -> None:
        ids = [(first, start)]
        while self.accept("->"):
            ids.append(self.node_id("an edge"))
            if self.peek("--"):
                raise self.error("undirected edge '--'", "pipelines are directed: use ->")
        block = {**scope.edge_defaults, **(self.attr_block() if self.peek("[") else {})}
        for (source, pos), (target, _) in itertools.pairwise(ids):
            edge = Edge(source, target, loc=self.loc(pos))
            for key, value in block.items():
                edge.attrs[key] = _typed("edge", key, value)
                edge.attr_locs[key] = value.loc
            self.graph.edges.append(edge)

    def attr_block(self) -> dict[str, _Value]:
        open_pos = self.pos
        self.expect("[", "attribute blocks start with [")
        block: dict[str, _Value] = {}
        while True:
            self.skip()
            if self.pos >= len(self.text):
                raise self.error("unclosed '[': the file ended inside an attribute block",
                                 "add the missing ]", open_pos)
            if self.accept("]"):
                return block
            key = self.match(_KEY_RE)
            if key is None:
                raise self.error(f"expected an attribute name, found {self.found()}",
                                 "attributes are written key=value, separated by commas")
            if not self.accept("="):
                raise self.error(f"expected '=' after attribute {key!r}, found {self.found()}",
                                 f'write {key}="value"')
            block[key] = self.value()
            if self.accept(","):
                continue
            if self.peek("]"):
                continue
            if self.peek(";"):
                raise self.error("';' between attributes", "separate attributes with commas")
            if self.pos < len(self.text):
                raise self.error(f"missing ',' before {self.found()}", "separate attributes with commas")

    def value(self) -> _Value:
        self.skip()
        start = self.pos
        loc = self.loc(start)
        if self.text.startswith('"', start):
            text = self.string()
            return _Value(text, self.text[start:self.pos], loc)
        if self.text.startswith("<", start):
            raise self.error("HTML-like <...> values are not supported", 'use a quoted string: label="..."')
        word = self.match(_WORD_RE)
        if word is None:
            raise self.error(f"expected a value, found {self.found()}", 'write key=value, e.g. label="Plan"')
        if word in ("true", "false"):
            return _Value(word == "true", word, loc)
        if _INT_RE.fullmatch(word):
            return _Value(int(word), word, loc)
        if _FLOAT_RE.fullmatch(word):
            return _Value(float(word), word, loc)
        duration = Duration.parse(word)
        if duration is not None:
            return _Value(duration, word, loc)
        if _BARE_RE.fullmatch(word):
            return _Value(word, word, loc)
        raise self.error(f"invalid unquoted value {word[:40]!r}", f'quote it: "{word[:40]}"', start)

    def string(self) -> str:
        m = _STRING_RE.match(self.text, self.pos)
        if m is None:
            raise self.error("unterminated string", 'close it with " (write \\" for a quote inside)')
        self.pos = m.end()
        body = m.group(1)
        return _ESCAPE_RE.sub(_unescape, body) if "\\" in body else body


def parse_dot(source: str, filename: str = "<string>", *,
              max_depth: int = DEFAULT_MAX_SUBGRAPH_DEPTH) -> Graph:
    """Parse DOT source into a Graph; raises DotSyntaxError (a UserError) with file:line:col."""
    return _Parser(source, filename, max_depth).parse()
