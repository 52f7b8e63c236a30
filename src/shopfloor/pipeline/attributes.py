"""The typed attribute schema of attractor-spec Appendix A, and coercion to it.

The parser types values by their syntax (`3` is an int, `"3"` a string). For
the attributes the spec types, it then coerces: `max_retries="3"` becomes 3 and
`timeout="900s"` a Duration, since the spec's own examples quote them. A value
that cannot be coerced is kept as written; the `attribute_type` lint rule
reports it with its location, so one run of `shopfloor validate` lists every
bad value at once instead of stopping at the first.
"""

from __future__ import annotations

from typing import Any, Literal

from shopfloor.pipeline.graph import Duration

AttrType = Literal["string", "integer", "non_negative_integer", "boolean", "duration"]
Scope = Literal["graph", "node", "edge"]

GRAPH_ATTRS: dict[str, AttrType] = {
    "goal": "string", "label": "string", "model_stylesheet": "string",
    "default_max_retries": "non_negative_integer", "default_max_retry": "non_negative_integer",
    "default_fidelity": "string", "retry_target": "string", "fallback_retry_target": "string",
    "stack.child_dotfile": "string", "stack.child_workdir": "string",
    "tool_hooks.pre": "string", "tool_hooks.post": "string",
}

NODE_ATTRS: dict[str, AttrType] = {
    "label": "string", "shape": "string", "type": "string", "prompt": "string",
    "max_retries": "non_negative_integer", "goal_gate": "boolean",
    "retry_target": "string", "fallback_retry_target": "string", "fidelity": "string",
    "thread_id": "string", "class": "string", "timeout": "duration",
    "llm_model": "string", "llm_provider": "string", "reasoning_effort": "string",
    "auto_status": "boolean", "allow_partial": "boolean",
}

EDGE_ATTRS: dict[str, AttrType] = {
    "label": "string", "condition": "string", "weight": "integer", "fidelity": "string",
    "thread_id": "string", "loop_restart": "boolean",
}

SCHEMAS: dict[Scope, dict[str, AttrType]] = {"graph": GRAPH_ATTRS, "node": NODE_ATTRS, "edge": EDGE_ATTRS}

_PHRASES: dict[AttrType, str] = {
    "string": "a string", "integer": "a whole number", "non_negative_integer": "a whole number >= 0",
    "boolean": "true or false", "duration": "a duration such as 900s",
}

_EXAMPLES: dict[AttrType, str] = {
    "string": '"text"', "integer": "3", "non_negative_integer": "3", "boolean": "true",
    "duration": "900s (units: ms, s, m, h, d)",
}


def coerce(scope: Scope, key: str, value: Any, raw: str) -> Any:
    """The value converted to the schema type of `key`, or `value` unchanged if it does not fit.

    `raw` is the source spelling, used when a string attribute was written
    unquoted as something that looks like a number (`label=1.50` stays "1.50").
    """
    kind = SCHEMAS[scope].get(key)
    if kind is None:
        return value
    if kind == "string":
        return value if isinstance(value, str) else raw
    if kind in ("integer", "non_negative_integer"):
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value.strip())
        return value
    if kind == "boolean":
        if isinstance(value, str) and value.strip() in ("true", "false"):
            return value.strip() == "true"
        return value
    if isinstance(value, str):
        return Duration.parse(value) or value
    return value


def type_problem(scope: Scope, key: str, value: Any) -> str | None:
    """Why `value` does not fit the schema type of `key` (None when it does, or when `key` is free-form)."""
    kind = SCHEMAS[scope].get(key)
    if kind is None:
        return None
    ok = {
        "string": isinstance(value, str),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "non_negative_integer": isinstance(value, int) and not isinstance(value, bool) and value >= 0,
        "boolean": isinstance(value, bool),
        "duration": isinstance(value, Duration),
    }[kind]
    if ok:
        return None
    return f"{key} must be {_PHRASES[kind]}, got {value!r}"


def example(scope: Scope, key: str) -> str:
    """A valid value to suggest in a fix hint."""
    return _EXAMPLES[SCHEMAS[scope][key]]
