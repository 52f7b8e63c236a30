"""Scenario suites on disk: `suite.yaml`, the seed and chaos files, and one file per scenario.

Parse → validate here (pydantic models, one-line errors naming the file and
key); execution lives in `trajectory.py`. See docs/validation.md for the format.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shopfloor.errors import UserError
from shopfloor.twins.chaos import read_structured_file
from shopfloor.validate.candidate import DEFAULT_READY_TIMEOUT_S

SUITE_FILE = "suite.yaml"
#: Runs of each scenario when neither the suite nor the caller says.
DEFAULT_TRAJECTORIES = 3
#: Seconds one trajectory may take, the candidate's start included.
DEFAULT_TRAJECTORY_TIMEOUT_S = 60.0
#: Seconds one HTTP request or CLI command of a step may take.
DEFAULT_STEP_TIMEOUT_S = 10.0
#: Seconds a `wait_until` step polls before it fails.
DEFAULT_WAIT_UNTIL_TIMEOUT_S = 10.0


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CandidateConfig(_Strict):
    command: str = ""
    cwd: str = "."
    env: dict[str, str] = Field(default_factory=dict)
    port_env: str = "PORT"
    health_path: str | None = "/healthz"
    ready_timeout_s: float = Field(DEFAULT_READY_TIMEOUT_S, gt=0)


class SuiteConfig(_Strict):
    twins: list[str] = Field(default_factory=list)
    seed: str | None = None
    chaos: list[str | None] = Field(default_factory=lambda: [None])
    trajectories: int = Field(DEFAULT_TRAJECTORIES, ge=1)
    timeout_s: float = Field(DEFAULT_TRAJECTORY_TIMEOUT_S, gt=0)
    candidate: CandidateConfig = Field(default_factory=CandidateConfig)

    @model_validator(mode="before")
    @classmethod
    def _chaos_list(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("chaos"), str):
            data = {**data, "chaos": [data["chaos"]]}
        return data


# -- steps ------------------------------------------------------------------------------------


class ResponseExpect(_Strict):
    status: int | None = None
    json_: Any = Field(None, alias="json")


class HttpCall(_Strict):
    method: str = "GET"
    path: str
    json_: Any = Field(None, alias="json")
    body: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    query: dict[str, Any] = Field(default_factory=dict)
    timeout_s: float = Field(DEFAULT_STEP_TIMEOUT_S, gt=0)


class TwinCall(HttpCall):
    name: str
    auth: bool = True


class CliCall(_Strict):
    argv: list[str] | None = None
    command: str | None = None
    expect_exit: int = 0
    env: dict[str, str] = Field(default_factory=dict)
    timeout_s: float = Field(DEFAULT_STEP_TIMEOUT_S, gt=0)

    @model_validator(mode="after")
    def _one_form(self) -> CliCall:
        if (self.argv is None) == (self.command is None):
            raise ValueError("give exactly one of argv (a list) or command (a shell string)")
        return self


class JournalCheck(_Strict):
    twin: str
    method: str | None = None
    path: str | None = None
    where: Any = None
    count: int | None = Field(None, ge=0)
    min_count: int | None = Field(None, ge=0)
    max_count: int | None = Field(None, ge=0)
    include_faults: bool = False


class WaitUntil(_Strict):
    journal: JournalCheck
    timeout_s: float = Field(DEFAULT_WAIT_UNTIL_TIMEOUT_S, gt=0)


class Step(_Strict):
    name: str | None = None
    http: HttpCall | None = None
    twin: TwinCall | None = None
    cli: CliCall | None = None
    wait: float | None = Field(None, ge=0)
    wait_until: WaitUntil | None = None
    expect: ResponseExpect | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Step:
        kinds = [k for k in ("http", "twin", "cli", "wait", "wait_until") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(
                f"a step is exactly one of http, twin, cli, wait, wait_until (got {kinds or 'none'})"
            )
        if self.expect is not None and kinds[0] not in ("http", "twin"):
            raise ValueError("`expect` on a step applies to http and twin steps only")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in ("http", "twin", "cli", "wait", "wait_until") if getattr(self, k) is not None)


# -- expectations ----------------------------------------------------------------------------


class StateCheck(_Strict):
    twin: str
    at: str = ""
    equals: Any = None
    where: Any = None


class ResponseCheck(_Strict):
    step: str | int
    status: int | None = None
    json_: Any = Field(None, alias="json")


class JournalExpectation(_Strict):
    journal: JournalCheck


class StateExpectation(_Strict):
    state: StateCheck


class ResponseExpectation(_Strict):
    response: ResponseCheck


Expectation = Annotated[
    JournalExpectation | StateExpectation | ResponseExpectation, Field(union_mode="left_to_right")
]


class EvidenceItem(_Strict):
    journal: JournalCheck | None = None
    response: str | int | None = None


class Rubric(_Strict):
    question: str
    evidence: list[EvidenceItem] = Field(default_factory=list)
    model: str | None = None


class YamlScenario(_Strict):
    id: str
    title: str = ""
    seed: dict[str, Any] = Field(default_factory=dict)
    steps: list[Step] = Field(default_factory=list)
    expect: list[Expectation] = Field(default_factory=list)
    rubric: Rubric | None = None


# -- loaded suite ----------------------------------------------------------------------------


@dataclass
class Scenario:
    """One scenario of a suite: YAML (`spec`) or Python (`module` with `run(t)`)."""

    id: str
    title: str
    path: Path
    kind: Literal["yaml", "python"]
    spec: YamlScenario | None = None
    module: ModuleType | None = None

    @property
    def seed(self) -> dict[str, Any]:
        if self.spec is not None:
            return self.spec.seed
        return dict(getattr(self.module, "SEED", {}) or {})


@dataclass
class Suite:
    directory: Path
    config: SuiteConfig
    scenarios: list[Scenario]
    digest: str

    def path(self, relative: str) -> Path:
        return self.directory / relative

    def scenario_files(self) -> list[Path]:
        return [s.path for s in self.scenarios]


def _one_line(exc: ValidationError, where: Path) -> UserError:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    return UserError(
        f"{loc + ': ' if loc else ''}{err['msg']}",
        where=str(where),
        fix="see the scenario format in docs/validation.md",
    )


def suite_digest(directory: Path) -> str:
    """sha256 over every file's relative path and bytes, in sorted order: the scenario-set hash."""
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(str(path.relative_to(directory)).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _load_python(path: Path) -> Scenario:
    spec = importlib.util.spec_from_file_location(f"shopfloor_scenario_{path.stem.replace('-', '_')}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise UserError(
            f"cannot load Python scenario: {type(exc).__name__}: {exc}",
            where=str(path),
            fix="fix the module; it must define ID, TITLE and run(t)",
        ) from None
    missing = [name for name in ("ID", "run") if not hasattr(module, name)]
    if missing:
        raise UserError(
            f"Python scenario lacks {', '.join(missing)}",
            where=str(path),
            fix="define ID (the file name without .py), TITLE and run(t)",
        )
    return Scenario(
        id=str(module.ID), title=str(getattr(module, "TITLE", "")), path=path, kind="python", module=module
    )


def _load_yaml(path: Path) -> Scenario:
    raw = read_structured_file(path, "scenario")
    if not isinstance(raw, dict):
        raise UserError("a scenario must be a mapping", where=str(path), fix="start with `id:` and `steps:`")
    try:
        spec = YamlScenario.model_validate(raw)
    except ValidationError as exc:
        raise _one_line(exc, path) from None
    return Scenario(id=spec.id, title=spec.title, path=path, kind="yaml", spec=spec)


def load_suite(directory: Path | str) -> Suite:
    """Read and validate a suite directory (every scenario file, the seed and chaos paths)."""
    directory = Path(directory).resolve()
    suite_file = directory / SUITE_FILE
    if not suite_file.is_file():
        raise UserError(
            f"no {SUITE_FILE} in the scenarios directory",
            where=str(directory),
            fix=f"create {SUITE_FILE} (see docs/validation.md) or pass the suite's directory",
        )
    raw = read_structured_file(suite_file, "suite") or {}
    try:
        config = SuiteConfig.model_validate(raw)
    except ValidationError as exc:
        raise _one_line(exc, suite_file) from None
    for ref in [config.seed, *config.chaos]:
        if ref is not None and not (directory / ref).is_file():
            raise UserError(
                f"{ref} not found", where=str(suite_file), fix="paths are relative to the suite directory"
            )
    referenced = {SUITE_FILE, config.seed, *config.chaos}
    scenarios: list[Scenario] = []
    for path in sorted(directory.iterdir()):
        if path.name in referenced or path.name.startswith((".", "_")) or not path.is_file():
            continue
        if path.suffix in (".yaml", ".yml"):
            scenario = _load_yaml(path)
        elif path.suffix == ".py":
            scenario = _load_python(path)
        else:
            continue
        if scenario.id != path.stem:
            raise UserError(
                f"scenario id {scenario.id!r} differs from its file name",
                where=str(path),
                fix=f"name the file {scenario.id}{path.suffix} or set id: {path.stem}",
            )
        scenarios.append(scenario)
    if not scenarios:
        raise UserError(
            "the suite has no scenarios", where=str(directory), fix="add <id>.yaml files beside suite.yaml"
        )
    return Suite(directory, config, scenarios, suite_digest(directory))
