"""Validation API (attractor-spec 7.3): run the lint rules, refuse graphs with errors."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from shopfloor.errors import UserError
from shopfloor.pipeline.diagnostics import Diagnostic, errors, in_source_order
from shopfloor.pipeline.graph import Graph
from shopfloor.pipeline.lint_rules import LintRule, built_in_rules


class ValidationError(UserError):
    """The graph has error-severity diagnostics; the first is the one-line message."""

    def __init__(self, diagnostics: list[Diagnostic], filename: str = "") -> None:
        self.diagnostics = diagnostics
        found = in_source_order(errors(diagnostics))
        first = found[0]
        more = f" (and {len(found) - 1} more error{'s' if len(found) > 2 else ''}" \
               f"; see: shopfloor validate {filename or 'PIPELINE.dot'})" if len(found) > 1 else ""
        super().__init__(f"{first.message} [{first.rule}]{more}",
                         where=str(first.loc) if first.loc else filename or None, fix=first.fix or None)


def validate(graph: Graph, extra_rules: Sequence[LintRule] | None = None, *,
             handler_types: Iterable[str] = ()) -> list[Diagnostic]:
    """All diagnostics of the built-in rules, then of `extra_rules` (custom rules, 7.4)."""
    rules = [*built_in_rules(handler_types), *(extra_rules or ())]
    diagnostics: list[Diagnostic] = []
    for rule in rules:
        diagnostics.extend(rule.apply(graph))
    return diagnostics


def validate_or_raise(graph: Graph, extra_rules: Sequence[LintRule] | None = None, *,
                      handler_types: Iterable[str] = ()) -> list[Diagnostic]:
    """Like `validate`, but raises ValidationError when any diagnostic is an error."""
    diagnostics = validate(graph, extra_rules, handler_types=handler_types)
    if errors(diagnostics):
        raise ValidationError(diagnostics, graph.filename if graph.filename != "<string>" else "")
    return diagnostics
