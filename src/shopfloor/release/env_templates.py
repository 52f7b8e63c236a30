"""`{{context.KEY}}` and `{{env.NAME}}` in a target's `env`, rendered once per deployment.

A deployed service often needs values only the pipeline run knows: the base URL
of a digital twin the run started (`{{context.twins.slack.base_url}}`), a run id.
The deploy renders its target's `env` against the run context and the deploying
process's environment; the result is stored with the deployment, so a resumed
deployment, a restarted daemon or a rollback re-creates the service with exactly
the values it was deployed with, not whatever the context holds later.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import Any

from shopfloor.errors import UserError
from shopfloor.release.canonical import canonical_sha256

_TEMPLATE = re.compile(r"\{\{\s*([A-Za-z0-9_.\-]+)\s*\}\}")


def _text(value: Any) -> str:
    """Context values are JSON-ish: scalars as text, structures as JSON (e.g. `twins.slack.env`)."""
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def render_env(env: Mapping[str, str], context: Mapping[str, Any] | None, *, target: str) -> dict[str, str]:
    """Every value of `env` with its templates replaced; an unresolved one is a one-line UserError.

    `context` is None outside a pipeline run (CLI and HTTP deploys): `{{context.…}}` cannot resolve there.
    """
    rendered: dict[str, str] = {}
    for name, value in env.items():

        def substitute(match: re.Match[str], name: str = name) -> str:
            ref = match.group(1)
            where = f"[[targets]] {target!r} env {name}"
            namespace, _, key = ref.partition(".")
            if namespace == "context" and key:
                if context is None:
                    raise UserError(f"{{{{{ref}}}}} needs a pipeline run's context, and this deploy has none",
                                    where=where, fix="deploy through a shopfloor.deploy node, or replace the "
                                                     "template with a value")
                if context.get(key) is None:
                    raise UserError(f"unresolved template {{{{{ref}}}}}: the run context has no key {key!r}",
                                    where=where, fix="run the node that sets it (e.g. shopfloor.twins) "
                                                     "before the deploy node, or fix the key")
                return _text(context[key])
            if namespace == "env" and key:
                if key not in os.environ:
                    raise UserError(f"unresolved template {{{{{ref}}}}}: ${key} is not set", where=where,
                                    fix=f"export {key} in the deploying process's environment")
                return os.environ[key]
            raise UserError(f"unknown template {{{{{ref}}}}}", where=where,
                            fix="use {{context.KEY}} (run context) or {{env.NAME}} (deploying process)")

        rendered[name] = _TEMPLATE.sub(substitute, value)
    return rendered


def env_digest(env: Mapping[str, str]) -> str:
    """What the idempotency payload keeps of an env: its hash, never the values (they may be secrets)."""
    return canonical_sha256(dict(env))
