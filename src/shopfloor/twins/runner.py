"""Running a set of twins together: `run_twins([...])`, the one entry point.

    with run_twins(["slack", "jira"], seed="seed.yaml", chaos="chaos.yaml") as fleet:
        WebClient(token=..., base_url=fleet["slack"].base_url)

The seed file is YAML or JSON with one section per twin (`slack:`, `jira:`, ...);
each twin documents its own section. Every twin is served on its own loopback
port and stopped when the block exits, whatever happens inside it. Besides the
built-in names, a twin may be named by import path, `package.module:TwinClass`;
it then runs (and takes seed and chaos sections) under its class's `name`.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shopfloor.errors import UserError
from shopfloor.twins.chaos import ChaosProfile, load_chaos, read_structured_file
from shopfloor.twins.framework import Twin
from shopfloor.twins.server import DEFAULT_HOST, TwinServer

#: name → "module:Class" of every built-in twin.
BUILTIN_TWINS: dict[str, str] = {
    "slack": "shopfloor.twins.slack:SlackTwin",
    "jira": "shopfloor.twins.jira:JiraTwin",
    "okta": "shopfloor.twins.okta:OktaTwin",
    "aws": "shopfloor.twins.aws:AwsTwin",
}


def twin_class(name: str) -> type[Twin]:
    """A built-in twin by name, or any Twin subclass by `module:Class`."""
    target = BUILTIN_TWINS.get(name) or (name if ":" in name else None)
    if target is None:
        raise UserError(
            f"unknown twin {name!r}", fix=f"choose from: {', '.join(BUILTIN_TWINS)}, or give module:TwinClass"
        )
    module, _, attr = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise UserError(
            f"cannot load twin {name!r}: {exc}", fix="check the module path and class name"
        ) from None
    if not (isinstance(cls, type) and issubclass(cls, Twin)):
        raise UserError(f"{name!r} is not a Twin subclass", fix="subclass shopfloor.twins.framework.Twin")
    return cls


def load_seed(
    source: Mapping[str, Any] | Path | str | None, known: Sequence[str] = tuple(BUILTIN_TWINS)
) -> tuple[dict[str, Any], str]:
    """The per-twin fixture sections of a seed file or mapping, and where they came from."""
    if source is None:
        return {}, "seed"
    where = "seed"
    if isinstance(source, str | Path):
        where = str(source)
        source = read_structured_file(Path(source), "seed") or {}
    if not isinstance(source, Mapping):
        raise UserError(
            "a seed must map twin names to fixtures",
            where=where,
            fix="write e.g. `slack: {users: [...]}` at the top level",
        )
    unknown = sorted(set(source) - set(known))
    if unknown:
        raise UserError(
            f"unknown twin section {unknown[0]!r}",
            where=where,
            fix=f"sections are twin names: {', '.join(known)}",
        )
    return dict(source), where


@dataclass
class RunningTwin:
    name: str
    twin: Twin
    server: TwinServer

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def base_url(self) -> str:
        return self.twin.base_url()

    def reset(self) -> None:
        """Back to the seeded state, with an empty journal and chaos dice rewound."""
        self.twin.reset()
        self.server.app.chaos.reset()

    def credentials(self) -> dict[str, Any]:
        with self.twin.lock:
            return self.twin.credentials()

    def environment(self) -> dict[str, str]:
        with self.twin.lock:
            return self.twin.environment()

    def describe(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "base_url": self.base_url,
            "control_url": f"{self.url}/_twin",
            "credentials": self.credentials(),
            "env": self.environment(),
        }


class TwinFleet(Mapping[str, RunningTwin]):
    """The running twins by name."""

    def __init__(self, twins: dict[str, RunningTwin]) -> None:
        self._twins = twins

    def __getitem__(self, name: str) -> RunningTwin:
        return self._twins[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._twins)

    def __len__(self) -> int:
        return len(self._twins)

    def describe(self) -> dict[str, Any]:
        return {name: running.describe() for name, running in self._twins.items()}

    def environment(self) -> dict[str, str]:
        """Every twin's environment variables, merged (names never collide across vendors)."""
        env: dict[str, str] = {}
        for running in self._twins.values():
            env.update(running.environment())
        return env

    def context_values(self) -> dict[str, Any]:
        """Flat `twins.<name>.<key>` entries for a pipeline context (url, base_url, env, credentials)."""
        out: dict[str, Any] = {}
        for name, running in self._twins.items():
            out[f"twins.{name}.url"] = running.url
            out[f"twins.{name}.base_url"] = running.base_url
            out[f"twins.{name}.env"] = running.environment()
            for key, value in running.credentials().items():
                out[f"twins.{name}.{key}"] = value
        return out


def start_twin(
    cls: type[Twin],
    *,
    fixture: Mapping[str, Any] | None = None,
    chaos: ChaosProfile | None = None,
    id_seed: int | str = 0,
    host: str = DEFAULT_HOST,
    port: int = 0,
    where: str = "seed",
) -> RunningTwin:
    name = cls.name
    try:
        twin = cls(fixture, seed=id_seed)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        what = f"missing key {exc}" if isinstance(exc, KeyError) else str(exc)
        raise UserError(
            f"bad `{name}` section: {what}", where=where, fix=f"see the {name} seed format in docs/twins.md"
        ) from None
    profile = chaos or ChaosProfile()
    server = TwinServer(twin, chaos=profile.twins.get(name), chaos_seed=profile.seed, host=host, port=port)
    try:
        server.start()
    except OSError as exc:
        raise UserError(
            f"twin {name!r} cannot listen on {host}:{port}: {exc.strerror}",
            fix="pick a free port, or leave it out to get one from the kernel",
        ) from None
    return RunningTwin(name, twin, server)


@contextmanager
def run_twins(
    names: Sequence[str],
    *,
    seed: Mapping[str, Any] | Path | str | None = None,
    chaos: ChaosProfile | Mapping[str, Any] | Path | str | None = None,
    id_seed: int | str = 0,
    host: str = DEFAULT_HOST,
    ports: Mapping[str, int] | None = None,
) -> Iterator[TwinFleet]:
    """Start the named twins (seeded, with chaos), yield them, stop them all on exit.

    Each twin listens on a free port the kernel picks, unless `ports` names one for it.
    """
    classes = {cls.name: cls for cls in (twin_class(n) for n in names)}  # bad names fail before any start
    known = list(dict.fromkeys([*BUILTIN_TWINS, *classes]))
    fixtures, where = load_seed(seed, known)
    profile = load_chaos(chaos)
    unknown_ports = sorted(set(ports or {}) - set(classes))
    if unknown_ports:
        raise UserError(
            f"a port is given for {unknown_ports[0]!r}, which is not started",
            fix=f"name one of: {', '.join(classes)}",
        )
    unknown = sorted(set(profile.twins) - set(known))
    if unknown:
        raise UserError(
            f"chaos profile names unknown twin {unknown[0]!r}", fix=f"twins are: {', '.join(known)}"
        )
    with ExitStack() as stack:
        running: dict[str, RunningTwin] = {}
        for name, cls in classes.items():
            twin = start_twin(
                cls,
                fixture=fixtures.get(name),
                chaos=profile,
                id_seed=id_seed,
                host=host,
                port=(ports or {}).get(name, 0),
                where=where,
            )
            stack.callback(twin.server.stop)
            running[name] = twin
        yield TwinFleet(running)
