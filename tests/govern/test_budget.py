"""Hierarchical budgets: reserve/settle, carving, tool calls, wall clock, 20 concurrent agents."""

from __future__ import annotations

import threading

import pytest

from shopfloor.govern.budget import Budget, BudgetExceeded
from shopfloor.govern.policy import BudgetLimits


def test_reserve_holds_room_and_settle_charges_actual_usage() -> None:
    run = Budget("run", BudgetLimits(usd=1.0, tokens=1000))
    held = run.reserve(0.6, 600)
    assert run.remaining()["usd"] == pytest.approx(0.4)
    with pytest.raises(BudgetExceeded) as info:
        run.reserve(0.5, 10)
    assert info.value.resource == "usd" and "run usd limit $1.0000" in str(info.value)
    held.settle(0.1, 150)
    assert run.spent()["usd"] == pytest.approx(0.1) and run.spent()["tokens"] == 150
    assert run.remaining()["usd"] == pytest.approx(0.9)
    held.settle(5.0, 5000)  # settling twice is a no-op
    assert run.spent()["llm_calls"] == 1


def test_child_is_carved_out_of_parent_and_charges_every_level() -> None:
    run = Budget("run", BudgetLimits(usd=1.0))
    node = run.child("implement", BudgetLimits(usd=5.0))
    session = node.child("session-1")
    sub = session.child("subagent-1", BudgetLimits(tokens=100))
    assert sub.remaining()["usd"] == pytest.approx(1.0)  # the run's room is the tightest
    sub.reserve(0.3, 50).settle(0.25, 40)
    for level in (run, node, session, sub):
        assert level.spent()["usd"] == pytest.approx(0.25)
    with pytest.raises(BudgetExceeded) as info:
        sub.reserve(0.01, 70)
    assert info.value.level == "run/implement/session-1/subagent-1" and info.value.resource == "tokens"
    with pytest.raises(BudgetExceeded) as info:
        node.reserve(0.8, 0)
    assert info.value.level == "run"


def test_failed_calls_still_count() -> None:
    run = Budget("run", BudgetLimits(usd=1.0))
    run.reserve(0.5, 100).settle(0.02, 30, failed=True)
    spent = run.spent()
    assert spent["failed_calls"] == 1 and spent["usd"] == pytest.approx(0.02) and spent["reserved_usd"] == 0


def test_tool_calls_are_counted_against_every_level() -> None:
    run = Budget("run", BudgetLimits(tool_calls=3))
    session = run.child("s", BudgetLimits(tool_calls=10))
    for _ in range(3):
        session.count_tool_call()
    with pytest.raises(BudgetExceeded) as info:
        session.count_tool_call()
    assert info.value.level == "run" and info.value.resource == "tool_calls"
    assert run.spent()["tool_calls"] == 3


def test_wall_clock_is_checked_before_spending() -> None:
    now = [100.0]
    run = Budget("run", BudgetLimits(wall_clock_s=60), clock=lambda: now[0], elapsed_before_s=10)
    run.reserve(0.0, 0).settle(0, 0)
    now[0] += 50.5
    with pytest.raises(BudgetExceeded) as info:
        run.reserve(0.01, 1)
    assert info.value.resource == "wall_clock_s"
    with pytest.raises(BudgetExceeded):
        run.check()


def test_resumed_budget_continues_from_spent_amounts() -> None:
    first = Budget("run", BudgetLimits(usd=1.0))
    first.reserve(0.9, 10).settle(0.9, 10)
    snap = first.snapshot()
    resumed = Budget("run", BudgetLimits(usd=2.0), spent=snap, elapsed_before_s=snap["elapsed_s"])
    assert resumed.spent()["usd"] == pytest.approx(0.9)
    assert resumed.remaining()["usd"] == pytest.approx(1.1)


def test_twenty_concurrent_agents_overspend_at_most_one_reservation() -> None:
    """Each agent reserves $0.05 and really spends up to its reservation; the run has $1."""
    run = Budget("run", BudgetLimits(usd=1.0))
    reservation = 0.05
    barrier = threading.Barrier(20)
    refused = []

    def agent(i: int) -> None:
        session = run.child(f"session-{i}")
        barrier.wait()
        while True:
            try:
                held = session.reserve(reservation, 500)
            except BudgetExceeded:
                refused.append(i)
                return
            held.settle(reservation * (0.5 + (i % 5) / 10), 400)

    threads = [threading.Thread(target=agent, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    spent = run.spent()
    assert len(refused) == 20
    assert spent["reserved_usd"] == pytest.approx(0.0, abs=1e-9)
    assert spent["usd"] <= 1.0 + reservation
    assert spent["usd"] > 1.0 - reservation  # the budget was actually used up, not refused early
