"""Which host environment variables a command may see.

The coding-agent-loop spec (4.2) asks for three policies: inherit everything
except secrets, inherit only a core set, or start clean. Secrets are recognised
by name, case-insensitively; core variables are always passed when present.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from typing import Literal

EnvPolicy = Literal["inherit_all", "inherit_core", "inherit_none"]

#: The spec's default policy: everything except variables that look like secrets.
DEFAULT_ENV_POLICY: EnvPolicy = "inherit_all"

#: Names that look like secrets (matched case-insensitively) are never inherited.
SECRET_PATTERNS: tuple[str, ...] = ("*_API_KEY", "*_SECRET", "*_TOKEN", "*_PASSWORD", "*_CREDENTIAL",
                                    "*_CREDENTIALS", "*_SECRET_KEY", "*_ACCESS_KEY", "*_PRIVATE_KEY")

#: Variables passed through whenever the policy inherits anything.
CORE_VARIABLES: tuple[str, ...] = (
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TERM", "TZ",
    "TMPDIR", "GOPATH", "GOROOT", "CARGO_HOME", "RUSTUP_HOME", "NVM_DIR", "PYENV_ROOT", "JAVA_HOME",
    "VIRTUAL_ENV", "NODE_PATH",
)


def is_secret(name: str) -> bool:
    upper = name.upper()
    return any(fnmatch.fnmatchcase(upper, pattern) for pattern in SECRET_PATTERNS)


def filter_environment(source: Mapping[str, str], policy: EnvPolicy = DEFAULT_ENV_POLICY,
                       extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a command gets: `source` filtered by `policy`, then `extra` on top.

    `extra` comes from the caller (not the host), so it is applied unfiltered.
    """
    if policy == "inherit_all":
        env = {k: v for k, v in source.items() if not is_secret(k)}
    elif policy == "inherit_core":
        env = {k: v for k, v in source.items() if k in CORE_VARIABLES or k.startswith("LC_")}
    else:
        env = {}
    env.update(extra or {})
    return env
