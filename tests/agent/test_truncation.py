"""Tool output truncation (spec 5.1-5.3)."""

from __future__ import annotations

from shopfloor.agent.truncation import (
    DEFAULT_TOOL_CHAR_LIMITS,
    DEFAULT_TOOL_LINE_LIMITS,
    truncate_lines,
    truncate_output,
    truncate_tool_output,
)


def test_default_limits_match_the_spec_table() -> None:
    assert DEFAULT_TOOL_CHAR_LIMITS["read_file"] == 50_000
    assert DEFAULT_TOOL_CHAR_LIMITS["shell"] == 30_000
    assert DEFAULT_TOOL_CHAR_LIMITS["grep"] == 20_000
    assert DEFAULT_TOOL_CHAR_LIMITS["glob"] == 20_000
    assert DEFAULT_TOOL_CHAR_LIMITS["edit_file"] == 10_000
    assert DEFAULT_TOOL_CHAR_LIMITS["apply_patch"] == 10_000
    assert DEFAULT_TOOL_CHAR_LIMITS["write_file"] == 1_000
    assert DEFAULT_TOOL_CHAR_LIMITS["spawn_agent"] == 20_000
    assert DEFAULT_TOOL_LINE_LIMITS == {"shell": 256, "grep": 200, "glob": 500}


def test_head_tail_keeps_both_ends_and_says_how_much_went() -> None:
    text = "A" * 100 + "B" * 100 + "C" * 100
    out = truncate_output(text, 100, "head_tail")
    assert out.startswith("A" * 50) and out.endswith("C" * 50)
    assert "200 characters were removed from the middle" in out
    assert "B" not in out.replace("WARNING", "")[:60]


def test_tail_mode_keeps_the_end() -> None:
    out = truncate_output("x" * 50 + "y" * 50, 50, "tail")
    assert out.startswith("[WARNING: Tool output was truncated. First 50 characters were removed.")
    assert out.endswith("y" * 50) and "x" not in out.split("]\n\n", 1)[1]


def test_short_output_passes_untouched() -> None:
    assert truncate_tool_output("hello", "shell") == "hello"


def test_character_truncation_runs_before_lines_for_huge_single_lines() -> None:
    # Two 10 MB lines: a line limit alone would let this through untouched.
    huge = ("x" * 10_000_000 + "\n") * 2
    out = truncate_tool_output(huge, "shell")
    assert len(out) < 31_000
    assert "[WARNING: Tool output was truncated." in out


def test_line_limit_applies_after_characters() -> None:
    text = "\n".join(f"line {i}" for i in range(1000))
    out = truncate_tool_output(text, "shell")
    assert "[... 744 lines omitted ...]" in out
    assert out.startswith("line 0\n") and out.endswith("line 999")
    assert truncate_lines("a\nb\nc", 3) == "a\nb\nc"


def test_limits_are_overridable_per_tool() -> None:
    text = "\n".join(f"l{i}" for i in range(50))
    out = truncate_tool_output(text, "shell", {"shell": 20}, {"shell": None})
    assert "[WARNING: Tool output was truncated." in out and "lines omitted" not in out
    out = truncate_tool_output(text, "read_file", {}, {"read_file": 10})
    assert "[... 40 lines omitted ...]" in out


def test_a_zero_line_limit_turns_line_truncation_off_and_char_limits_must_be_positive() -> None:
    import pytest

    from shopfloor.agent.config import SessionConfig

    text = "\n".join(str(i) for i in range(1000))
    assert truncate_tool_output(text, "shell", {}, {"shell": 0}) == text
    with pytest.raises(ValueError, match="greater than 0"):
        SessionConfig(tool_output_limits={"shell": 0})
