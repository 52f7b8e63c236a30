"""`[contracts]` in shopfloor.toml: which contracts the project declares, and their budgets."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

#: Requests sent by the resource-budget load.
DEFAULT_LOAD_REQUESTS = 200
#: Concurrent clients of the resource-budget load.
DEFAULT_LOAD_CONCURRENCY = 4
#: Share of mutants the agent's tests must kill.
DEFAULT_MIN_MUTATION_SCORE = 0.6
#: Mutants tried at most (a deterministic spread over the covered lines).
DEFAULT_MAX_MUTANTS = 20
#: Seconds one test run (per mutant) may take.
DEFAULT_MUTANT_TIMEOUT_S = 60.0


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LayersContract(_Strict):
    enabled: bool = True
    config: str | None = (
        None  # an import-linter config file; default: the project's own (pyproject/.importlinter)
    )


class ForbiddenPattern(_Strict):
    pattern: str
    paths: list[str] = Field(default_factory=lambda: ["**/*.py"])
    message: str = ""


class ApiContract(_Strict):
    packages: list[str] = Field(default_factory=list)
    openapi: list[str] = Field(default_factory=list)


class LoadRequest(_Strict):
    method: str = "GET"
    path: str = "/healthz"
    json_: object = Field(None, alias="json")


class ResourcesContract(_Strict):
    command: str
    cwd: str = "."
    env: dict[str, str] = Field(default_factory=dict)
    port_env: str = "PORT"
    health_path: str | None = "/healthz"
    request: LoadRequest = Field(default_factory=LoadRequest)
    requests: int = Field(DEFAULT_LOAD_REQUESTS, ge=1)
    concurrency: int = Field(DEFAULT_LOAD_CONCURRENCY, ge=1)
    max_rss_mb: float | None = Field(None, gt=0)
    max_p95_ms: float | None = Field(None, gt=0)


class AgentTestsContract(_Strict):
    paths: list[str] = Field(default_factory=list)  # default: test files changed since the base revision
    mutation: bool = True
    min_mutation_score: float = Field(DEFAULT_MIN_MUTATION_SCORE, ge=0, le=1)
    max_mutants: int = Field(DEFAULT_MAX_MUTANTS, ge=1)
    test_command: str = "python -m pytest -q -x -p no:cacheprovider"
    timeout_s: float = Field(DEFAULT_MUTANT_TIMEOUT_S, gt=0)
    source: list[str] = Field(default_factory=list)  # files that may be mutated; default: every covered file
    env: dict[str, str] = Field(
        default_factory=dict
    )  # for the test runs, e.g. PYTEST_DISABLE_PLUGIN_AUTOLOAD


class ContractsConfig(_Strict):
    base: str | None = None
    layers: LayersContract | None = None
    forbidden: list[ForbiddenPattern] = Field(default_factory=list)
    api: ApiContract | None = None
    resources: ResourcesContract | None = None
    tests: AgentTestsContract | None = None
