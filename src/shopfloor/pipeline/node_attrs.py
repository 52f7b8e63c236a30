"""Typed reads of the free-form attributes handlers use (`sim.*`, `manager.*`, `human.*`, …).

The parser coerces the attributes of the spec's Appendix A; extension
attributes arrive as written (a string, or a number/bool when unquoted), and
graphs built in Python may carry plain strings. These helpers give one
tolerant reading for all of them.
"""

from __future__ import annotations

from typing import Any

from shopfloor.pipeline.graph import Duration


def as_seconds(value: Any) -> float | None:
    """A Duration, a number of seconds, or a duration string ("900s", "250ms") → seconds."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    if not text:
        return None
    parsed = Duration.parse(text)
    if parsed is not None:
        return float(parsed)
    try:
        return float(text)
    except ValueError:
        return None


def as_int(value: Any, default: int) -> int:
    if value is None or isinstance(value, bool):
        return default
    try:
        return int(str(value).strip())
    except ValueError:
        return default


def as_float(value: Any, default: float) -> float:
    if value is None or isinstance(value, bool):
        return default
    try:
        return float(str(value).strip())
    except ValueError:
        return default


def as_bool(value: Any, default: bool = False) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "1", "yes")
