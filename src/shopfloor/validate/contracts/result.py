"""What a contract check returns, and the report of all of them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Violation:
    where: str
    message: str


@dataclass
class ContractResult:
    kind: str  # layers | forbidden | api | resources | tests
    passed: bool
    summary: str
    violations: list[Violation] = field(default_factory=list)
    measurements: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ContractsReport:
    results: list[ContractResult]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "contracts": [r.to_dict() for r in self.results]}

    def to_markdown(self) -> str:
        lines = [f"# Contracts: {'PASS' if self.passed else 'FAIL'}", ""]
        if not self.results:
            lines.append(
                "No contracts declared: add a [contracts] section to shopfloor.toml (docs/validation.md)."
            )
        for r in self.results:
            lines.append(f"## {r.kind}: {'pass' if r.passed else 'FAIL'}")
            lines.append("")
            lines.append(r.summary)
            for v in r.violations:
                lines.append(f"- `{v.where}`: {v.message}")
            lines.append("")
        return "\n".join(lines) + "\n"
