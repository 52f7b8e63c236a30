"""The release layer's failures, each with its own exit code so scripts can branch on it.

HTTP routes map the idempotency errors to the status codes of the IETF
Idempotency-Key draft (409 in flight, 422 key reused with another payload).
"""

from __future__ import annotations

from shopfloor.errors import UserError

#: Exit codes of `shopfloor deploy` and friends, beyond UserError's 2.
EXIT_DEPLOY_FAILED = 3
EXIT_KEY_REUSED = 4
EXIT_IN_FLIGHT = 5
EXIT_DRIFT = 6
EXIT_APPROVAL_REQUIRED = 7
EXIT_PAUSED = 8


class IdempotencyKeyReused(UserError):
    """The same Idempotency-Key arrived with a different payload (HTTP 422)."""

    exit_code = EXIT_KEY_REUSED
    http_status = 422


class RequestInFlight(UserError):
    """A request with this Idempotency-Key is still being processed (HTTP 409)."""

    exit_code = EXIT_IN_FLIGHT
    http_status = 409


class TargetBusy(UserError):
    """Another deployment on the target is running or waits for a human (HTTP 409)."""

    exit_code = EXIT_IN_FLIGHT
    http_status = 409


class DriftDetected(UserError):
    """What was validated is no longer what would be deployed."""

    exit_code = EXIT_DRIFT
    http_status = 412


class ApprovalError(UserError):
    """An approval is missing, forged, expired, or bound to another artifact."""

    exit_code = EXIT_APPROVAL_REQUIRED
    http_status = 403
