"""`[[targets]]` in shopfloor.toml: where releases go and how they are rolled out.

```toml
[[targets]]
name = "notifier"
command = "python app.py"        # started in the artifact's tree; gets its port in $PORT
health_path = "/healthz"
proxy_port = 8080                # 0 picks a free port (read it with `shopfloor releases --json`)
strategy = "canary"              # or "bluegreen"
steps = [10, 50]                 # canary traffic weights (percent) before full promotion

[targets.analysis]
interval_s = 10
count = 3
failure_limit = 0

[[targets.analysis.metrics]]
name = "errors"
kind = "error_rate"              # error_rate | p99_latency_ms | smoke | command
success_max = 0.01
failure_above = 0.05
```
"""

from __future__ import annotations

from typing import Literal

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


class AnalysisTemplate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    interval_s: float = Field(DEFAULT_ANALYSIS_INTERVAL_S, gt=0)
    count: int = Field(DEFAULT_ANALYSIS_COUNT, ge=1)
    failure_limit: int = Field(DEFAULT_FAILURE_LIMIT, ge=0)
    inconclusive_limit: int = Field(DEFAULT_INCONCLUSIVE_LIMIT, ge=0)
    min_requests: int = Field(DEFAULT_MIN_REQUESTS, ge=0)
    metrics: list[AnalysisMetric] = Field(default_factory=list)


class TargetConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    command: str
    health_path: str = DEFAULT_HEALTH_PATH
    proxy_port: int = Field(0, ge=0, le=65535)
    strategy: Literal["canary", "bluegreen"] = "canary"
    steps: list[int] = Field(default_factory=lambda: list(DEFAULT_CANARY_STEPS))
    health_timeout_s: float = Field(DEFAULT_HEALTH_TIMEOUT_S, gt=0)
    env: dict[str, str] = Field(default_factory=dict)
    analysis: AnalysisTemplate = Field(default_factory=AnalysisTemplate)

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
