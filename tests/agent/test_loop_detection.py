"""Loop detection (spec 2.10)."""

from __future__ import annotations

from shopfloor.agent.loop_detection import call_signature, detect_loop


def test_signature_ignores_key_order_but_not_values() -> None:
    assert call_signature("shell", {"a": 1, "b": 2}) == call_signature("shell", {"b": 2, "a": 1})
    assert call_signature("shell", {"a": 1}) != call_signature("shell", {"a": 2})
    assert call_signature("shell", {"a": 1}) != call_signature("grep", {"a": 1})


def test_detects_patterns_of_one_two_and_three_calls() -> None:
    assert detect_loop(["a"] * 10, 10)
    assert detect_loop(["a", "b"] * 5, 10)
    assert detect_loop(["a", "b", "c"] * 4, 12)
    assert detect_loop(["z", "y", *(["a", "b"] * 5)], 10)  # only the last window counts


def test_no_loop_for_varied_calls_or_short_history() -> None:
    assert not detect_loop(["a"] * 9, 10)
    assert not detect_loop([*(["a"] * 9), "b"], 10)
    assert not detect_loop(["a", "b", "c", "d"] * 3, 12)
