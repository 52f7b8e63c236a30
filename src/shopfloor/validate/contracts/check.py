"""Run every contract a project declares in `[contracts]` of its shopfloor.toml."""

from __future__ import annotations

from pathlib import Path

from shopfloor.config import ProjectFile
from shopfloor.errors import UserError
from shopfloor.validate.contracts.api import check_api
from shopfloor.validate.contracts.config import ContractsConfig
from shopfloor.validate.contracts.forbidden import check_forbidden
from shopfloor.validate.contracts.layers import check_layers
from shopfloor.validate.contracts.resources import check_resources
from shopfloor.validate.contracts.result import ContractResult, ContractsReport
from shopfloor.validate.contracts.testquality import check_tests

CONTRACT_KINDS = ("layers", "forbidden", "api", "resources", "tests")


def check_contracts(
    project: Path,
    config: ContractsConfig,
    *,
    base: str | None = None,
    only: list[str] | None = None,
    hidden_paths: list[Path] | None = None,
) -> ContractsReport:
    """Every declared contract (or only the named kinds), in a fixed order."""
    unknown = sorted(set(only or []) - set(CONTRACT_KINDS))
    if unknown:
        raise UserError(
            f"unknown contract kind {unknown[0]!r}", where="--only", fix=f"use {', '.join(CONTRACT_KINDS)}"
        )
    wanted = set(only or CONTRACT_KINDS)
    base = base or config.base
    hidden = list(hidden_paths or [])
    results: list[ContractResult] = []
    if "layers" in wanted and config.layers is not None and config.layers.enabled:
        results.append(check_layers(project, config.layers))
    if "forbidden" in wanted and config.forbidden:
        results.append(check_forbidden(project, config.forbidden))
    if "api" in wanted and config.api is not None:
        if base is None:
            raise UserError(
                "the api contract needs a base revision",
                where="[contracts]",
                fix='pass --base REV or set base = "origin/main" under [contracts]',
            )
        results.append(check_api(project, config.api, base))
    if "resources" in wanted and config.resources is not None:
        results.append(check_resources(project, config.resources, hidden))
    if "tests" in wanted and config.tests is not None:
        results.append(check_tests(project, config.tests, base, hidden))
    return ContractsReport(results)


def load_contracts(project_file: ProjectFile) -> ContractsConfig:
    return project_file.section("contracts", ContractsConfig)
