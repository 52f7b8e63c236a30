"""`{{candidate.url}}`-style templates in seeds, candidate environments and steps."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from shopfloor.errors import UserError

_TEMPLATE = re.compile(r"\{\{\s*([A-Za-z0-9_.\-]+)\s*\}\}")


def render(value: Any, variables: Mapping[str, str], *, where: str) -> Any:
    """`value` with every `{{name}}` in its strings replaced (recursively through dicts and lists).

    `env.NAME` reads the host environment; any other unknown name is a one-line error.
    """
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return variables[name]
            if name.startswith("env.") and name[4:] in os.environ:
                return os.environ[name[4:]]
            known = ", ".join(sorted(variables))
            raise UserError(
                f"unknown template {{{{{name}}}}}", where=where, fix=f"known names: {known}, env.NAME"
            )

        return _TEMPLATE.sub(substitute, value)
    if isinstance(value, Mapping):
        return {
            render(k, variables, where=where): render(v, variables, where=where) for k, v in value.items()
        }
    if isinstance(value, list):
        return [render(v, variables, where=where) for v in value]
    return value
