"""Forbidden APIs and patterns: a regular expression per line, over the files a glob selects."""

from __future__ import annotations

import re
from pathlib import Path

from shopfloor.errors import UserError
from shopfloor.validate.contracts.config import ForbiddenPattern
from shopfloor.validate.contracts.result import ContractResult, Violation
from shopfloor.validate.leaks import SKIPPED_DIRS


def _files(project: Path, patterns: list[str]) -> list[Path]:
    found = {p for pattern in patterns for p in project.glob(pattern) if p.is_file()}
    return sorted(p for p in found if not SKIPPED_DIRS.intersection(p.relative_to(project).parts))


def check_forbidden(project: Path, rules: list[ForbiddenPattern]) -> ContractResult:
    violations: list[Violation] = []
    for rule in rules:
        try:
            regex = re.compile(rule.pattern)
        except re.error as exc:
            raise UserError(
                f"invalid pattern {rule.pattern!r}: {exc}",
                where="[[contracts.forbidden]]",
                fix="write a Python regular expression",
            ) from None
        for path in _files(project, rule.paths):
            for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
                if regex.search(line):
                    why = rule.message or f"matches forbidden pattern {rule.pattern!r}"
                    violations.append(
                        Violation(f"{path.relative_to(project)}:{number}", f"{why}: {line.strip()}")
                    )
    summary = f"{len(rules)} pattern(s); {len(violations)} violation(s)"
    return ContractResult("forbidden", not violations, summary, violations)
