"""attractor-spec 10 / DoD 11.9: the condition expression language."""

from __future__ import annotations

import pytest

from shopfloor.errors import UserError
from shopfloor.pipeline.conditions import (
    ConditionSyntaxError,
    condition_error,
    evaluate_condition,
    parse_condition,
)
from shopfloor.pipeline.context import Context
from shopfloor.pipeline.outcome import Outcome, StageStatus


def _ok(label: str = "") -> Outcome:
    return Outcome(StageStatus.SUCCESS, preferred_label=label)


def test_equals_compares_strings() -> None:
    assert evaluate_condition("outcome=success", _ok(), Context())
    assert not evaluate_condition("outcome=fail", _ok(), Context())


def test_not_equals() -> None:
    assert evaluate_condition("outcome!=fail", _ok(), Context())
    assert not evaluate_condition("outcome!=success", _ok(), Context())


def test_and_conjunction_requires_every_clause() -> None:
    ctx = Context({"tests_passed": "true"})
    assert evaluate_condition("outcome=success && context.tests_passed=true", _ok(), ctx)
    assert not evaluate_condition("outcome=success && context.tests_passed=false", _ok(), ctx)
    assert not evaluate_condition("outcome=fail && context.tests_passed=true", _ok(), ctx)


@pytest.mark.parametrize("status", list(StageStatus))
def test_outcome_resolves_to_each_status(status: StageStatus) -> None:
    assert evaluate_condition(f"outcome={status.value}", Outcome(status), Context())


def test_preferred_label_resolves() -> None:
    assert evaluate_condition("preferred_label=Fix", _ok("Fix"), Context())
    assert not evaluate_condition("preferred_label=Fix", _ok("Approve"), Context())


def test_context_keys_resolve_with_and_without_prefix_and_missing_is_empty() -> None:
    ctx = Context({"loop_state": "active", "context.full": "x"})
    assert evaluate_condition("context.loop_state!=exhausted", _ok(), ctx)
    assert evaluate_condition("context.loop_state=active", _ok(), ctx)
    assert evaluate_condition("context.full=x", _ok(), ctx)
    assert evaluate_condition("loop_state=active", _ok(), ctx)
    assert evaluate_condition('context.missing=""', _ok(), ctx)
    assert not evaluate_condition("context.missing=anything", _ok(), ctx)
    assert evaluate_condition("context.missing!=anything", _ok(), ctx)


def test_comparison_is_case_sensitive() -> None:
    assert not evaluate_condition("outcome=SUCCESS", _ok(), Context())


def test_python_booleans_compare_as_dot_booleans() -> None:
    ctx = Context({"ok": True, "bad": False, "n": 3})
    assert evaluate_condition("context.ok=true && context.bad=false && context.n=3", _ok(), ctx)


@pytest.mark.parametrize("expr", ["", "   ", None])
def test_empty_condition_is_always_true(expr: str | None) -> None:
    assert evaluate_condition(expr, Outcome(StageStatus.FAIL), Context())


def test_quoted_literals_may_contain_operators_and_escapes() -> None:
    ctx = Context({"msg": 'a && b != "c"'})
    assert evaluate_condition(r'context.msg="a && b != \"c\""', _ok(), ctx)


def test_bare_key_is_truthiness() -> None:
    assert evaluate_condition("context.flag", _ok(), Context({"flag": "yes"}))
    assert not evaluate_condition("context.flag", _ok(), Context({"flag": False}))
    assert not evaluate_condition("context.flag", _ok(), Context())


def test_plain_mapping_works_as_context() -> None:
    assert evaluate_condition("context.a=1", _ok(), {"a": 1})


@pytest.mark.parametrize(("expr", "column"), [
    ("outcome==success", 8),
    ("outcome=success || outcome=fail", 17),
    ("outcome>3", 8),
    ("=success", 1),
    ('context.x="open', 11),
    ("outcome=success &&", 19),
    ("outcome=", 9),
])
def test_syntax_errors_report_column_and_fix(expr: str, column: int) -> None:
    with pytest.raises(ConditionSyntaxError) as info:
        parse_condition(expr)
    assert isinstance(info.value, UserError)
    assert info.value.column == column
    assert info.value.fix
    assert condition_error(expr) is not None


def test_parse_round_trips_through_str() -> None:
    cond = parse_condition('outcome=success && context.msg="two words" && context.flag')
    assert parse_condition(str(cond)) == cond
    assert cond.keys == ["outcome", "context.msg", "context.flag"]
