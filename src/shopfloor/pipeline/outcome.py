"""The result of running one node (attractor-spec 5.2)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class StageStatus(StrEnum):
    SUCCESS = "success"
    PARTIAL_SUCCESS = "partial_success"
    RETRY = "retry"
    FAIL = "fail"
    SKIPPED = "skipped"

    @property
    def is_success(self) -> bool:
        return self in (StageStatus.SUCCESS, StageStatus.PARTIAL_SUCCESS)


@dataclass
class Outcome:
    status: StageStatus
    preferred_label: str = ""
    suggested_next_ids: list[str] = field(default_factory=list)
    context_updates: dict[str, Any] = field(default_factory=dict)
    notes: str = ""
    failure_reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.status.value,
            "preferred_label": self.preferred_label,
            "suggested_next_ids": list(self.suggested_next_ids),
            "context_updates": dict(self.context_updates),
            "notes": self.notes,
            "failure_reason": self.failure_reason,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Outcome:
        """Read the status-file contract (attractor-spec Appendix C)."""
        raw = str(data.get("outcome", data.get("status", "fail"))).lower()
        return cls(
            status=StageStatus(raw),
            preferred_label=data.get("preferred_label", data.get("preferred_next_label", "")) or "",
            suggested_next_ids=list(data.get("suggested_next_ids", []) or []),
            context_updates=dict(data.get("context_updates", {}) or {}),
            notes=data.get("notes", "") or "",
            failure_reason=data.get("failure_reason", "") or "",
        )
