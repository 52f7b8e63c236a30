"""Parse a JSON prefix into the value it has so far (for stream_object's partial objects).

`parse_partial_json('{"a": [1, 2, 3')` is `{"a": [1, 2]}`: a number or literal
that may still grow and an unfinished key are left out rather than guessed;
an unfinished string value is kept as far as it goes.
"""

from __future__ import annotations

import json
from typing import Any

_MISSING = object()


class _Parser:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0

    def ws(self) -> None:
        while self.i < len(self.s) and self.s[self.i] in " \t\r\n":
            self.i += 1

    def value(self) -> Any:
        self.ws()
        if self.i >= len(self.s):
            return _MISSING
        c = self.s[self.i]
        if c == "{":
            return self.obj()
        if c == "[":
            return self.arr()
        if c == '"':
            return self.string(partial_ok=True)
        return self.literal()

    def string(self, partial_ok: bool) -> Any:
        self.i += 1
        out: list[str] = []
        while self.i < len(self.s):
            c = self.s[self.i]
            if c == '"':
                self.i += 1
                return "".join(out)
            if c == "\\":
                if self.i + 1 >= len(self.s):
                    break
                esc = (
                    self.s[self.i : self.i + 6] if self.s[self.i + 1] == "u" else self.s[self.i : self.i + 2]
                )
                try:
                    out.append(json.loads(f'"{esc}"'))
                except ValueError:
                    break
                self.i += len(esc)
                continue
            out.append(c)
            self.i += 1
        self.i = len(self.s)
        return "".join(out) if partial_ok else _MISSING

    def literal(self) -> Any:
        start = self.i
        while self.i < len(self.s) and self.s[self.i] not in ",]} \t\r\n":
            self.i += 1
        token = self.s[start : self.i]
        if self.i >= len(self.s):  # may still grow ("tr" -> "true", "12" -> "123")
            return _MISSING
        try:
            return json.loads(token)
        except ValueError:
            return _MISSING

    def obj(self) -> dict[str, Any]:
        self.i += 1
        out: dict[str, Any] = {}
        while self.more_items("}"):
            if self.s[self.i] != '"':
                self.i = len(self.s)
                return out
            key = self.string(partial_ok=False)
            if key is _MISSING:
                return out
            self.ws()
            if self.i >= len(self.s) or self.s[self.i] != ":":
                return out
            self.i += 1
            value = self.value()
            if value is _MISSING:
                return out
            out[key] = value
        return out

    def arr(self) -> list[Any]:
        self.i += 1
        out: list[Any] = []
        while self.more_items("]"):
            value = self.value()
            if value is _MISSING:
                return out
            out.append(value)
        return out

    def more_items(self, close: str) -> bool:
        """Skip whitespace and commas to the next item of a container; False at `close` or the end."""
        while True:
            self.ws()
            if self.i >= len(self.s):
                return False
            if self.s[self.i] == close:
                self.i += 1
                return False
            if self.s[self.i] != ",":
                return True
            self.i += 1


def parse_partial_json(text: str) -> Any | None:
    """The value of a (possibly unfinished) JSON document; None when nothing is usable yet."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    value = _Parser(text).value()
    return None if value is _MISSING else value
