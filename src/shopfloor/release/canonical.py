"""The one canonical JSON hash that approvals and idempotency keys bind to.

Every hash a later run must reproduce byte for byte (a diff an approval covers,
a deploy payload, an env) goes through here, so they cannot drift apart.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_sha256(value: Any) -> str:
    """sha256 of `value` as compact JSON with sorted keys."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
