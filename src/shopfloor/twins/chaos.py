"""Chaos: vendor failures injected on purpose, reproducibly.

A chaos profile (YAML or JSON) names, per twin and per route, which faults to
inject and how often. Every decision is drawn from a `random.Random` seeded by
(profile seed, twin, route pattern), so the same profile and the same sequence
of requests give the same faults, run after run.

    seed: 7
    twins:
      slack:
        latency: {ms: 20, jitter_ms: 10}
        routes:
          "POST /api/chat.postMessage":
            rate_limit: {rate: 1.0, burst: 2, retry_after_s: 1}
      jira:
        errors: {rate: 0.1, status: 503}
        outage: {after_requests: 20, duration_s: 2}

Route patterns are `"METHOD /path-glob"` or `"/path-glob"` (any method), matched
with fnmatch in file order; the first match overrides the twin-wide sections it
names. Per request the faults are checked in this order: outage, latency (always
added), an ongoing or new 429 burst, hang, connection reset, error status, and
finally limited data on the real response.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shopfloor.errors import UserError

DEFAULT_RATE_LIMIT_BURST = 3
#: Requests let through after a 429 burst before another burst may start.
DEFAULT_RATE_LIMIT_QUIET = 1
DEFAULT_RETRY_AFTER_S = 1
DEFAULT_ERROR_STATUS = 500
#: A hung request sleeps this long before its connection is dropped; clients time out first.
DEFAULT_HANG_S = 30.0
DEFAULT_OUTAGE_S = 2.0

Rate = Field(ge=0.0, le=1.0)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Latency(_Strict):
    ms: float = Field(0.0, ge=0)
    jitter_ms: float = Field(0.0, ge=0)


class Errors(_Strict):
    rate: float = Rate
    status: int = Field(DEFAULT_ERROR_STATUS, ge=400, le=599)


class RateLimit(_Strict):
    """A request starts a burst of `burst` 429s with probability `rate`; then `quiet` requests pass."""

    rate: float = Rate
    burst: int = Field(DEFAULT_RATE_LIMIT_BURST, ge=1)
    quiet: int = Field(DEFAULT_RATE_LIMIT_QUIET, ge=0)
    retry_after_s: int = Field(DEFAULT_RETRY_AFTER_S, ge=0)


class Hang(_Strict):
    rate: float = Rate
    seconds: float = Field(DEFAULT_HANG_S, gt=0)


class Reset(_Strict):
    rate: float = Rate


class LimitedData(_Strict):
    """With probability `rate`: send at most `max_bytes` of the body, at `bytes_per_s`."""

    rate: float = Field(1.0, ge=0.0, le=1.0)
    max_bytes: int | None = Field(None, ge=0)
    bytes_per_s: int | None = Field(None, gt=0)


class Outage(_Strict):
    """After `after_requests` requests the twin stops listening for `duration_s`, then comes back."""

    after_requests: int = Field(ge=0)
    duration_s: float = Field(DEFAULT_OUTAGE_S, gt=0)


class FaultSet(_Strict):
    latency: Latency | None = None
    errors: Errors | None = None
    rate_limit: RateLimit | None = None
    hang: Hang | None = None
    reset: Reset | None = None
    limited_data: LimitedData | None = None


class TwinChaos(FaultSet):
    outage: Outage | None = None
    routes: dict[str, FaultSet] = Field(default_factory=dict)


class ChaosProfile(_Strict):
    seed: int = 0
    twins: dict[str, TwinChaos] = Field(default_factory=dict)


def read_structured_file(path: Path, what: str) -> Any:
    """Parse a YAML or JSON file (JSON is YAML), with a one-line error when it is not."""
    if not path.is_file():
        raise UserError(f"{what} file not found", where=str(path), fix="pass an existing YAML or JSON file")
    text = path.read_text()
    try:
        return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise UserError(
            f"cannot parse {what}: {str(exc).splitlines()[0]}",
            where=str(path),
            fix="write valid YAML or JSON",
        ) from None


def load_chaos(source: ChaosProfile | Mapping[str, Any] | Path | str | None) -> ChaosProfile:
    """A profile from a model, a mapping, or a YAML/JSON file path; None means no chaos."""
    if source is None:
        return ChaosProfile()
    if isinstance(source, ChaosProfile):
        return source
    where = "chaos profile"
    if isinstance(source, str | Path):
        where = str(source)
        source = read_structured_file(Path(source), "chaos profile") or {}
    try:
        return ChaosProfile.model_validate(source)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise UserError(
            f"{err['msg']} at {loc}", where=where, fix="see the chaos profile format in docs/twins.md"
        ) from None


@dataclass
class Decision:
    """What chaos does to one request. `fault` names the fault for the journal."""

    delay_s: float = 0.0
    fault: str | None = None
    status: int = 0
    retry_after_s: int = 0
    hang_s: float = 0.0
    outage_s: float = 0.0
    max_bytes: int | None = None
    bytes_per_s: int | None = None


_SECTIONS = ("latency", "errors", "rate_limit", "hang", "reset", "limited_data")


class _Stream:
    def __init__(self, seed: int, twin: str, key: str) -> None:
        digest = hashlib.sha256(f"{seed}:{twin}:{key}".encode()).digest()
        self.random = random.Random(int.from_bytes(digest[:8], "big"))
        self.burst_left = 0
        self.quiet_left = 0


class ChaosEngine:
    """Decides, request by request, which faults one twin injects."""

    def __init__(self, twin: str, config: TwinChaos | None, seed: int = 0) -> None:
        self.twin = twin
        self.config = config or TwinChaos()
        self.seed = seed
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._streams: dict[str, _Stream] = {}
            self._requests = 0
            self._outage_done = False

    @property
    def active(self) -> bool:
        return self.config != TwinChaos()

    def _match(self, method: str, path: str) -> tuple[str, FaultSet]:
        for pattern, faults in self.config.routes.items():
            want_method, _, glob = pattern.partition(" ") if " " in pattern else ("", "", pattern)
            if want_method and want_method.upper() != method.upper():
                continue
            if fnmatch.fnmatchcase(path, glob.strip()):
                merged = {name: getattr(self.config, name) for name in _SECTIONS}
                merged.update({name: getattr(faults, name) for name in faults.model_fields_set})
                return pattern, FaultSet(**merged)
        return "*", FaultSet(**{name: getattr(self.config, name) for name in _SECTIONS})

    def decide(self, method: str, path: str) -> Decision:
        with self._lock:
            self._requests += 1
            outage = self.config.outage
            if outage and not self._outage_done and self._requests > outage.after_requests:
                self._outage_done = True
                return Decision(fault="outage", outage_s=outage.duration_s)
            key, faults = self._match(method, path)
            stream = self._streams.get(key)
            if stream is None:
                stream = self._streams[key] = _Stream(self.seed, self.twin, key)
            # Always draw the same number of values so one fault's setting never shifts another's dice.
            u_jitter, u_rate, u_hang, u_reset, u_error, u_limit = (stream.random.random() for _ in range(6))
            decision = Decision()
            if faults.latency:
                decision.delay_s = (faults.latency.ms + (2 * u_jitter - 1) * faults.latency.jitter_ms) / 1000
                decision.delay_s = max(decision.delay_s, 0.0)
            if self._rate_limited(stream, faults.rate_limit, u_rate):
                assert faults.rate_limit is not None
                decision.fault, decision.status = "rate_limit", 429
                decision.retry_after_s = faults.rate_limit.retry_after_s
            elif faults.hang and u_hang < faults.hang.rate:
                decision.fault, decision.hang_s = "hang", faults.hang.seconds
            elif faults.reset and u_reset < faults.reset.rate:
                decision.fault = "reset"
            elif faults.errors and u_error < faults.errors.rate:
                decision.fault, decision.status = "error", faults.errors.status
            elif faults.limited_data and u_limit < faults.limited_data.rate:
                decision.fault = "limited_data"
                decision.max_bytes = faults.limited_data.max_bytes
                decision.bytes_per_s = faults.limited_data.bytes_per_s
            return decision

    @staticmethod
    def _rate_limited(stream: _Stream, rl: RateLimit | None, draw: float) -> bool:
        if rl is None:
            return False
        if stream.burst_left == 0:
            if stream.quiet_left > 0:
                stream.quiet_left -= 1
                return False
            if draw >= rl.rate:
                return False
            stream.burst_left = rl.burst
        stream.burst_left -= 1
        if stream.burst_left == 0:
            stream.quiet_left = rl.quiet
        return True
