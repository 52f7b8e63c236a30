"""Context snapshots and drift: is the world still the one the release was validated in?

A run records a snapshot of its context when it starts: the source revision,
the lockfile hash, the shopfloor.toml hash, the scenario-set hash, the twin
versions and the policy hash. Before a deploy the snapshot is compared with the
present; any difference means the validation evidence no longer describes what
would ship, and the deploy is refused, naming each differing item.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from shopfloor.config import ProjectFile
from shopfloor.govern.policy import load_policy, policy_digest
from shopfloor.release.artifacts import source_revision, tree_digest

#: Lockfiles whose bytes pin the dependency set, in the order they are hashed.
DEFAULT_LOCKFILES = ("uv.lock", "poetry.lock", "Pipfile.lock", "requirements.txt", "requirements.lock",
                     "pdm.lock", "package-lock.json", "pnpm-lock.yaml", "yarn.lock", "Cargo.lock", "go.sum")


@dataclass
class ContextSnapshot:
    source_revision: str = ""
    lockfile_hash: str = ""
    config_hash: str = ""
    scenario_set_hash: str = ""
    twin_versions: dict[str, str] = field(default_factory=dict)
    policy_hash: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ContextSnapshot:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


@dataclass(frozen=True)
class DriftItem:
    name: str
    recorded: Any
    present: Any

    def line(self) -> str:
        return f"{self.name}: {_short(self.recorded)} → {_short(self.present)}"


def _short(value: Any) -> str:
    if isinstance(value, str) and len(value) == 64:
        return value[:12]
    return json.dumps(value, sort_keys=True) if not isinstance(value, str) else (value or "∅")


def _canonical_hash(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def lockfile_hash(root: Path) -> str:
    h = hashlib.sha256()
    for name in DEFAULT_LOCKFILES:
        path = root / name
        if path.is_file():
            h.update(name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def project_root(config: ProjectFile) -> Path:
    return config.path.resolve().parent if config.path else Path.cwd()


def _scenarios_dir(config: ProjectFile, root: Path) -> Path | None:
    """The sealed suite `[validate] scenarios` names (the same key the scenarios node defaults to)."""
    raw = config.data.get("validate", {})
    path = raw.get("scenarios") if isinstance(raw, dict) else None
    return (root / path) if isinstance(path, str) else None


def _twin_versions(config: ProjectFile) -> dict[str, str]:
    """Each declared twin's configuration hash, so a changed twin counts as a new version."""
    raw = config.data.get("twins", {})
    entries = raw.items() if isinstance(raw, dict) else enumerate(raw if isinstance(raw, list) else [])
    out: dict[str, str] = {}
    for key, value in entries:
        name = value.get("name", str(key)) if isinstance(value, dict) else str(key)
        out[name] = _canonical_hash(value)[:16]
    return out


def capture_snapshot(config: ProjectFile, *, root: Path | None = None, scenarios_dir: Path | None = None,
                     twin_versions: dict[str, str] | None = None) -> ContextSnapshot:
    """The present context of the project around `config` (root: the config file's directory)."""
    root = root or project_root(config)
    scenarios = scenarios_dir or _scenarios_dir(config, root)
    return ContextSnapshot(
        source_revision=source_revision(root),
        lockfile_hash=lockfile_hash(root),
        config_hash=config.digest(),
        scenario_set_hash=tree_digest(scenarios) if scenarios and scenarios.is_dir() else "",
        twin_versions=_twin_versions(config) if twin_versions is None else dict(twin_versions),
        policy_hash=policy_digest(load_policy(config)),
    )


def compare(recorded: ContextSnapshot, present: ContextSnapshot) -> list[DriftItem]:
    """The items that differ, in a stable order; empty means no drift."""
    a, b = recorded.to_dict(), present.to_dict()
    return [DriftItem(name, a[name], b[name]) for name in a if a[name] != b[name]]
