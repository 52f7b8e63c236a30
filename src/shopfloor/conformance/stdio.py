"""The stdin/stdout contract the LLM and agent conformance commands share (CONFORMANCE.md).

A request is one JSON object on stdin; a failure is {"error": {"type", "message", …}}
on stdout, the same line on stderr for people, and exit status 1.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import Any, NoReturn

import typer

EXIT_ERROR = 1


def fail(kind: str, message: str, **extra: Any) -> NoReturn:
    print(json.dumps({"error": {"type": kind, "message": message, **extra}}))
    print(f"conformance: {kind}: {message}", file=sys.stderr)
    raise typer.Exit(EXIT_ERROR)


def parse_request(raw: str, required: Iterable[str] = (), *, empty_ok: bool = True) -> dict[str, Any]:
    """`raw` as one JSON object holding every `required` key; blank input is {} when `empty_ok`."""
    try:
        data = json.loads(raw) if raw.strip() else {} if empty_ok else None
    except ValueError as exc:
        fail("invalid_input", f"stdin is not JSON: {exc}")
    if not isinstance(data, dict):
        fail("invalid_input", "stdin must be one JSON object")
    missing = [key for key in required if key not in data]
    if missing:
        fail("invalid_input", f"stdin is missing {', '.join(missing)}")
    return data
