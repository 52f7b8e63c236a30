"""JSON-subset matching for expectations, with a few operators (`$regex`, `$contains`, ...).

A mapping matches when each of its keys matches the same key of the actual
value; a list matches when each expected item matches some actual item;
scalars compare equal. A single-key mapping whose key starts with `$` is an
operator.
"""

from __future__ import annotations

import re
from typing import Any

_MISSING = object()
OPERATORS = ("$regex", "$contains", "$exists", "$ne")


def _operator(expected: Any) -> str | None:
    if isinstance(expected, dict) and len(expected) == 1:
        key = next(iter(expected))
        if isinstance(key, str) and key.startswith("$"):
            if key not in OPERATORS:
                raise ValueError(f"unknown operator {key} (known: {', '.join(OPERATORS)})")
            return key
    return None


def matches(expected: Any, actual: Any) -> bool:
    """Whether `actual` contains `expected` (see the module docstring)."""
    op = _operator(expected)
    if op is not None:
        arg = expected[op]
        if op == "$exists":
            return (actual is not _MISSING) == bool(arg)
        if actual is _MISSING:
            return False
        if op == "$regex":
            return isinstance(actual, str) and re.search(str(arg), actual) is not None
        if op == "$contains":
            if isinstance(actual, str):
                return str(arg) in actual
            return isinstance(actual, list) and any(matches(arg, item) for item in actual)
        return not matches(arg, actual)  # $ne
    if actual is _MISSING:
        return False
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            matches(v, actual.get(k, _MISSING)) for k, v in expected.items()
        )
    if isinstance(expected, list):
        return isinstance(actual, list) and all(any(matches(e, a) for a in actual) for e in expected)
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    return bool(expected == actual)


def dig(value: Any, dotted: str) -> Any:
    """The value at a dotted path (`issues.PAY-1.fields`; list items by index); raises KeyError."""
    for part in [p for p in dotted.split(".") if p]:
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.lstrip("-").isdigit() and -len(value) <= int(part) < len(value):
            value = value[int(part)]
        else:
            raise KeyError(part)
    return value
