"""`[[targets]]` in shopfloor.toml: where releases go and how they are rolled out.

```toml
[[targets]]
name = "notifier"
command = "python app.py"        # started in the artifact's tree; gets its port in $PORT
health_path = "/healthz"
proxy_port = 8080                # 0 picks a free port (read it with `shopfloor releases --json`)
strategy = "canary"              # or "bluegreen"
steps = [10, 50]                 # canary traffic weights (percent) before full promotion

env = { SLACK_API_URL = "{{context.twins.slack.base_url}}" }   # rendered per deployment

[targets.analysis]
interval_s = 10
count = 3
failure_limit = 0
traffic = { path = "/healthz", rate_per_s = 20 }   # built-in load through the proxy while analysing

[[targets.analysis.metrics]]
name = "errors"
kind = "error_rate"              # error_rate | p99_latency_ms | smoke | command
success_max = 0.01
failure_above = 0.05

[targets.fault]                  # game days: the canary goes bad partway through
abort_rate = 0.5                 # share of canary requests answered 503 by the proxy
after_requests = 20              # ...once the canary has had 20 requests
```
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shopfloor.config import ProjectFile
from shopfloor.errors import UserError

DEFAULT_HEALTH_PATH = "/healthz"
#: How long a new backend may take to answer its health check with 200.
DEFAULT_HEALTH_TIMEOUT_S = 15.0
DEFAULT_CANARY_STEPS = (10, 50)
DEFAULT_ANALYSIS_INTERVAL_S = 10.0
DEFAULT_ANALYSIS_COUNT = 3
DEFAULT_FAILURE_LIMIT = 0
DEFAULT_INCONCLUSIVE_LIMIT = 0
#: Fewer proxied requests than this in one interval makes a traffic metric inconclusive.
DEFAULT_MIN_REQUESTS = 10
#: error_rate: success at or below, failure above (between: inconclusive).
DEFAULT_ERROR_RATE_SUCCESS_MAX = 0.01
DEFAULT_ERROR_RATE_FAILURE_ABOVE = 0.05
DEFAULT_P99_SUCCESS_MAX_MS = 500.0
DEFAULT_P99_FAILURE_ABOVE_MS = 1000.0
#: How long a smoke or custom command may run before its measurement counts as failed.
DEFAULT_COMMAND_TIMEOUT_S = 60.0
#: Built-in analysis traffic: requests per second through the proxy, and the most it may be set to.
DEFAULT_TRAFFIC_RATE_PER_S = 20.0
MAX_TRAFFIC_RATE_PER_S = 500.0
DEFAULT_TRAFFIC_METHOD = "GET"
DEFAULT_TRAFFIC_PATH = "/"
#: Per-request timeout of the built-in traffic (a slow answer must not stall the generator for long).
DEFAULT_TRAFFIC_TIMEOUT_S = 5.0

_DEFAULT_THRESHOLDS = {
    "error_rate": (DEFAULT_ERROR_RATE_SUCCESS_MAX, DEFAULT_ERROR_RATE_FAILURE_ABOVE),
    "p99_latency_ms": (DEFAULT_P99_SUCCESS_MAX_MS, DEFAULT_P99_FAILURE_ABOVE_MS),
}


class AnalysisMetric(BaseModel):
    """One measurement taken every interval (Argo Rollouts' AnalysisTemplate metric)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    kind: Literal["error_rate", "p99_latency_ms", "smoke", "command"]
    #: smoke: exit 0 passes. command: prints a number compared with the thresholds.
    command: str | None = None
    success_max: float | None = None
    failure_above: float | None = None
    timeout_s: float = DEFAULT_COMMAND_TIMEOUT_S

    @model_validator(mode="after")
    def _check(self) -> AnalysisMetric:
        if self.kind in ("smoke", "command") and not self.command:
            raise ValueError(f"metric {self.name!r} of kind {self.kind!r} needs a command")
        default = _DEFAULT_THRESHOLDS.get(self.kind)
        if default:
            self.success_max = default[0] if self.success_max is None else self.success_max
            self.failure_above = default[1] if self.failure_above is None else self.failure_above
        return self


class AnalysisTraffic(BaseModel):
    """Requests the deploying process sends through the proxy while the analysis runs (and only then)."""

    model_config = ConfigDict(extra="forbid")

    method: str = DEFAULT_TRAFFIC_METHOD
    path: str = Field(DEFAULT_TRAFFIC_PATH, pattern=r"^/")
    #: A JSON body (sent with content-type application/json); None sends no body.
    json_body: Any = Field(None, alias="json")
    rate_per_s: float = Field(DEFAULT_TRAFFIC_RATE_PER_S, gt=0, le=MAX_TRAFFIC_RATE_PER_S)
    timeout_s: float = Field(DEFAULT_TRAFFIC_TIMEOUT_S, gt=0)


class FaultConfig(BaseModel):
    """Faults the proxy injects on the canary's share (see `release.fault`)."""

    model_config = ConfigDict(extra="forbid")

    abort_rate: float = Field(0.0, ge=0, le=1)
    delay_ms: float = Field(0.0, ge=0)
    after_s: float = Field(0.0, ge=0)
    after_requests: int = Field(0, ge=0)


class AnalysisTemplate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    interval_s: float = Field(DEFAULT_ANALYSIS_INTERVAL_S, gt=0)
    count: int = Field(DEFAULT_ANALYSIS_COUNT, ge=1)
    failure_limit: int = Field(DEFAULT_FAILURE_LIMIT, ge=0)
    inconclusive_limit: int = Field(DEFAULT_INCONCLUSIVE_LIMIT, ge=0)
    min_requests: int = Field(DEFAULT_MIN_REQUESTS, ge=0)
    metrics: list[AnalysisMetric] = Field(default_factory=list)
    traffic: AnalysisTraffic | None = None


class TargetConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    command: str
    health_path: str = DEFAULT_HEALTH_PATH
    proxy_port: int = Field(0, ge=0, le=65535)
    strategy: Literal["canary", "bluegreen"] = "canary"
    steps: list[int] = Field(default_factory=lambda: list(DEFAULT_CANARY_STEPS))
    health_timeout_s: float = Field(DEFAULT_HEALTH_TIMEOUT_S, gt=0)
    #: Values may hold {{context.KEY}} / {{env.NAME}} templates, rendered per deployment.
    env: dict[str, str] = Field(default_factory=dict)
    analysis: AnalysisTemplate = Field(default_factory=AnalysisTemplate)
    fault: FaultConfig | None = None

    @field_validator("steps")
    @classmethod
    def _steps(cls, steps: list[int]) -> list[int]:
        if any(not 0 < s < 100 for s in steps) or steps != sorted(set(steps)):
            raise ValueError("steps must be increasing canary weights between 1 and 99")
        return steps

    @property
    def rollout_steps(self) -> list[int]:
        """Canary weights to pass through before promotion; blue/green goes straight over."""
        return [] if self.strategy == "bluegreen" else list(self.steps)


def load_targets(config: ProjectFile) -> dict[str, TargetConfig]:
    return {t.name: t for t in config.table_list("targets", TargetConfig)}


def get_target(config: ProjectFile, name: str) -> TargetConfig:
    targets = load_targets(config)
    if name not in targets:
        known = ", ".join(sorted(targets)) or "none"
        raise UserError(f"unknown target {name!r} (declared: {known})", where=config.name,
                        fix="declare it under [[targets]] with name, command, health_path and proxy_port")
    return targets[name]
