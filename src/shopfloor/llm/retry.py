"""Retries with exponential backoff and jitter (spec 6.6), honouring Retry-After.

Only the high-level API retries (each LLM call on its own, never a whole
multi-step operation); `retry()` is the standalone utility for callers of the
low-level client.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from shopfloor.llm.abort import AbortSignal
from shopfloor.llm.errors import AbortError, SDKError

T = TypeVar("T")

DEFAULT_MAX_RETRIES = 2
DEFAULT_BASE_DELAY = 1.0
DEFAULT_MAX_DELAY = 60.0
DEFAULT_BACKOFF_MULTIPLIER = 2.0


@dataclass
class RetryPolicy:
    max_retries: int = DEFAULT_MAX_RETRIES
    base_delay: float = DEFAULT_BASE_DELAY
    max_delay: float = DEFAULT_MAX_DELAY
    backoff_multiplier: float = DEFAULT_BACKOFF_MULTIPLIER
    jitter: bool = True
    on_retry: Callable[[SDKError, int, float], None] | None = None
    # Overrides each error's own `retryable` flag, e.g. to retry timeouts too.
    should_retry: Callable[[SDKError], bool] | None = None

    def delay(self, attempt: int) -> float:
        """Backoff before retry number `attempt` (0-based), with ±50% jitter when enabled."""
        delay = min(self.base_delay * self.backoff_multiplier**attempt, self.max_delay)
        return delay * random.uniform(0.5, 1.5) if self.jitter else delay

    def wants_retry(self, error: SDKError) -> bool:
        return self.should_retry(error) if self.should_retry is not None else error.retryable


def retry(
    fn: Callable[[], T],
    policy: RetryPolicy | None = None,
    *,
    abort_signal: AbortSignal | None = None,
    sleep: Callable[[float], None] | None = None,
) -> T:
    """Call `fn`, retrying retryable SDKErrors per `policy`.

    A Retry-After within `max_delay` replaces the computed backoff; one beyond it
    is not waited for: the error is raised at once, with `retry_after` set.
    """
    policy = policy or RetryPolicy()
    for attempt in range(policy.max_retries + 1):
        try:
            return fn()
        except SDKError as error:
            if attempt >= policy.max_retries or not policy.wants_retry(error):
                raise
            if error.retry_after is not None:
                if error.retry_after > policy.max_delay:
                    raise
                delay = error.retry_after
            else:
                delay = policy.delay(attempt)
            if policy.on_retry is not None:
                policy.on_retry(error, attempt, delay)
            if sleep is not None:
                sleep(delay)
            elif abort_signal is not None:
                if abort_signal.wait(delay):
                    raise AbortError("request cancelled while waiting to retry") from error
            else:
                time.sleep(delay)
    raise AssertionError("unreachable: the loop returns or raises")
