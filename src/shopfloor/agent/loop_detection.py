"""Loop detection (coding-agent-loop-spec 2.10): the same 1-3 tool calls cycling."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

PATTERN_LENGTHS = (1, 2, 3)


def call_signature(name: str, arguments: Any) -> str:
    """Tool name plus a hash of its arguments (key order does not matter)."""
    canonical = (
        json.dumps(arguments, sort_keys=True, default=str) if not isinstance(arguments, str) else arguments
    )
    return f"{name}:{hashlib.sha256(canonical.encode()).hexdigest()[:16]}"


def detect_loop(signatures: Sequence[str], window_size: int) -> bool:
    """True when the last `window_size` signatures repeat a pattern of length 1, 2 or 3."""
    if window_size <= 0 or len(signatures) < window_size:
        return False
    recent = list(signatures[-window_size:])
    for pattern_len in PATTERN_LENGTHS:
        if window_size % pattern_len or pattern_len >= window_size:
            continue
        pattern = recent[:pattern_len]
        if all(recent[i : i + pattern_len] == pattern for i in range(pattern_len, window_size, pattern_len)):
            return True
    return False
