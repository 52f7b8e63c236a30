"""Retry policy of attractor-spec 3.5-3.6: how many attempts, how long between them, which errors.

A node's attempts come from `max_retries` (else the graph's
`default_max_retries`, legacy `default_max_retry`, else 0). The delay between
attempts is exponential with jitter by default; a node may name a preset
(`retry_policy="patient"`) or tune it (`retry.initial_delay`, `retry.backoff_factor`,
`retry.max_delay`, `retry.jitter`), and graph-level attributes of the same
names set the default for every node.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from shopfloor.errors import UserError
from shopfloor.pipeline.graph import Graph, Node
from shopfloor.pipeline.node_attrs import as_bool, as_float, as_int, as_seconds

DEFAULT_MAX_RETRIES = 0
DEFAULT_INITIAL_DELAY_MS = 200
DEFAULT_BACKOFF_FACTOR = 2.0
DEFAULT_MAX_DELAY_MS = 60_000
DEFAULT_JITTER = True
#: Jitter multiplies the delay by a uniform factor in this range (spec 3.6).
JITTER_RANGE = (0.5, 1.5)


@dataclass(frozen=True)
class BackoffConfig:
    initial_delay_ms: float = DEFAULT_INITIAL_DELAY_MS
    backoff_factor: float = DEFAULT_BACKOFF_FACTOR
    max_delay_ms: float = DEFAULT_MAX_DELAY_MS
    jitter: bool = DEFAULT_JITTER

    def delay_for_attempt(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed attempt `attempt` (1-indexed)."""
        delay = self.initial_delay_ms * (self.backoff_factor ** (attempt - 1))
        delay = min(delay, self.max_delay_ms)
        if self.jitter:
            delay *= (rng or random).uniform(*JITTER_RANGE)
        return delay / 1000.0


def default_should_retry(exc: BaseException) -> bool:
    """Appendix D: transient errors retry, terminal ones do not.

    An exception may say so itself with a `retryable` attribute (the LLM error
    taxonomy does); otherwise HTTP-ish `status_code`s 429 and 5xx, timeouts and
    connection errors are transient, and everything else (bad input,
    authentication, bugs) is terminal.
    """
    retryable = getattr(exc, "retryable", None)
    if isinstance(retryable, bool):
        return retryable
    if isinstance(exc, UserError):
        return False
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        return status == 429 or status >= 500
    return isinstance(exc, TimeoutError | ConnectionError)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 1
    backoff: BackoffConfig = field(default_factory=BackoffConfig)
    should_retry: Callable[[BaseException], bool] = default_should_retry

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")


#: Spec 3.6 preset policies.
PRESETS: dict[str, RetryPolicy] = {
    "none": RetryPolicy(max_attempts=1),
    "standard": RetryPolicy(max_attempts=5, backoff=BackoffConfig(200, 2.0)),
    "aggressive": RetryPolicy(max_attempts=5, backoff=BackoffConfig(500, 2.0)),
    "linear": RetryPolicy(max_attempts=3, backoff=BackoffConfig(500, 1.0)),
    "patient": RetryPolicy(max_attempts=3, backoff=BackoffConfig(2000, 3.0)),
}


def _attr(node: Node, graph: Graph, key: str) -> object:
    value = node.get(key)
    return graph.get(key) if value is None else value


def build_retry_policy(node: Node, graph: Graph) -> RetryPolicy:
    preset_name = str(_attr(node, graph, "retry_policy") or "")
    if preset_name:
        if preset_name not in PRESETS:
            raise UserError(f"unknown retry_policy {preset_name!r}", where=f"node {node.id}",
                            fix=f"use one of {', '.join(PRESETS)}")
        policy = PRESETS[preset_name]
    else:
        policy = RetryPolicy()
    max_retries = node.get("max_retries")
    if max_retries is None:
        max_retries = graph.get("default_max_retries", graph.get("default_max_retry"))
    if max_retries is not None or not preset_name:
        policy = replace(policy, max_attempts=max(as_int(max_retries, DEFAULT_MAX_RETRIES), 0) + 1)
    backoff = policy.backoff
    initial = as_seconds(_attr(node, graph, "retry.initial_delay"))
    maximum = as_seconds(_attr(node, graph, "retry.max_delay"))
    backoff = replace(
        backoff,
        initial_delay_ms=backoff.initial_delay_ms if initial is None else initial * 1000,
        max_delay_ms=backoff.max_delay_ms if maximum is None else maximum * 1000,
        backoff_factor=as_float(_attr(node, graph, "retry.backoff_factor"), backoff.backoff_factor),
        jitter=as_bool(_attr(node, graph, "retry.jitter"), backoff.jitter),
    )
    return replace(policy, backoff=backoff)
