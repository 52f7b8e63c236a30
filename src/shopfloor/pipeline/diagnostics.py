"""The result of linting a pipeline (attractor-spec 7.1)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from shopfloor.pipeline.graph import SourceLoc


class Severity(StrEnum):
    ERROR = "error"  # the pipeline will not execute
    WARNING = "warning"  # it will execute, but behaviour may be unexpected
    INFO = "info"


@dataclass(frozen=True)
class Diagnostic:
    rule: str
    severity: Severity
    message: str
    node_id: str | None = None
    edge: tuple[str, str] | None = None
    fix: str = ""
    loc: SourceLoc | None = None

    @property
    def subject(self) -> str:
        """The node id or `from -> to` the diagnostic is about ("" for the graph)."""
        if self.edge is not None:
            return f"{self.edge[0]} -> {self.edge[1]}"
        return self.node_id or ""

    def line(self) -> str:
        """One line: `file:line:col: severity[rule]: message — fix: …`."""
        where = f"{self.loc}: " if self.loc else ""
        fix = f" — fix: {self.fix}" if self.fix else ""
        return f"{where}{self.severity.value}[{self.rule}]: {self.message}{fix}"

    def __str__(self) -> str:
        return self.line()

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity.value,
            "message": self.message,
            "node_id": self.node_id,
            "node": self.node_id,  # alias: CONFORMANCE.md speaks of "node or edge"
            "edge": {"from": self.edge[0], "to": self.edge[1]} if self.edge else None,
            "fix": self.fix,
            "location": str(self.loc) if self.loc else None,
        }


def errors(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    return [d for d in diagnostics if d.severity is Severity.ERROR]


def report(diagnostics: list[Diagnostic], filename: str) -> dict[str, Any]:
    """The JSON object of `shopfloor validate --json` and `conformance validate`."""
    ordered = in_source_order(diagnostics)
    count = {s: sum(1 for d in ordered if d.severity is s) for s in Severity}
    return {"file": filename, "valid": count[Severity.ERROR] == 0, "errors": count[Severity.ERROR],
            "warnings": count[Severity.WARNING], "diagnostics": [d.to_dict() for d in ordered]}


def in_source_order(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """Sorted by where they point in the file (graph-level ones first); stable within a position."""
    return sorted(diagnostics, key=lambda d: (d.loc.line, d.loc.col) if d.loc else (0, 0))
