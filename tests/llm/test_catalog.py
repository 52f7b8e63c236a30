"""The model catalog and pricing (spec 2.9; every Response carries its cost)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from shopfloor.llm import catalog as cat
from shopfloor.llm.types import Message, ModelInfo, Request, Usage


def test_lookup_by_id_alias_and_dated_snapshot() -> None:
    assert cat.get_model_info("claude-opus-4-6").provider == "anthropic"  # type: ignore[union-attr]
    assert cat.get_model_info("sonnet").id == "claude-sonnet-4-5"  # type: ignore[union-attr]
    assert cat.get_model_info("gpt-4o-2024-08-06").id == "gpt-4o"  # type: ignore[union-attr]
    assert cat.get_model_info("gemini-2.0-flash-001").id == "gemini-2.0-flash"  # type: ignore[union-attr]
    assert cat.get_model_info("nonexistent-model-xyz") is None
    assert cat.get_model_info("gpt-5.2-nonexistent") is None


def test_list_and_latest_models() -> None:
    anthropic = cat.list_models("anthropic")
    assert anthropic and {m.provider for m in anthropic} == {"anthropic"}
    assert {"openai", "anthropic", "gemini"} <= {m.provider for m in cat.list_models()}
    assert cat.get_latest_model("anthropic").id == "claude-opus-4-6"  # type: ignore[union-attr]
    assert cat.get_latest_model("openai").id == "gpt-5.2"  # type: ignore[union-attr]
    assert cat.get_latest_model("gemini").id == "gemini-3.1-pro-preview"  # type: ignore[union-attr]
    for model in cat.list_models():
        assert model.context_window > 0 and model.input_cost_per_million is not None


def test_cost_bills_cached_and_written_prompt_tokens_at_their_own_rates() -> None:
    catalog = cat.Catalog(
        [
            ModelInfo(
                id="m",
                provider="p",
                input_cost_per_million=10,
                output_cost_per_million=20,
                cache_read_cost_per_million=1,
                cache_write_cost_per_million=15,
            )
        ]
    )
    usage = Usage(
        input_tokens=1_000_000, output_tokens=500_000, cache_read_tokens=400_000, cache_write_tokens=100_000
    )
    # fresh 500k * $10 + cached 400k * $1 + written 100k * $15 + out 500k * $20 (per 1M)
    assert catalog.cost(usage, "m", "p") == pytest.approx(5 + 0.4 + 1.5 + 10)


def test_unknown_price_charges_the_configurable_default_and_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    catalog = cat.Catalog([], default_input_cost_per_million=2, default_output_cost_per_million=4)
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000)
    with caplog.at_level(logging.WARNING, logger="shopfloor.llm.catalog"):
        assert catalog.cost(usage, "mystery", "ollama") == pytest.approx(6)
        assert catalog.cost(usage, "mystery", "ollama") == pytest.approx(6)
    warnings = [r for r in caplog.records if "no price known" in r.getMessage()]
    assert len(warnings) == 1 and "mystery" in warnings[0].getMessage()


def test_default_unknown_price_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cat.DEFAULT_INPUT_COST_ENV, "0")
    monkeypatch.setenv(cat.DEFAULT_OUTPUT_COST_ENV, "0")
    assert cat.Catalog([]).cost(Usage(input_tokens=10, output_tokens=10), "local", "ollama") == 0


def test_estimate_grows_with_prompt_and_max_tokens() -> None:
    catalog = cat.default_catalog()
    small = Request(model="gpt-5.2", messages=[Message.user("hi")], max_tokens=10)
    big = Request(model="gpt-5.2", messages=[Message.user("hi " * 10_000)], max_tokens=1000)
    assert 0 < catalog.estimate_cost(small, "openai") < catalog.estimate_cost(big, "openai")


def test_extra_catalog_file_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    extra = tmp_path / "models.json"
    extra.write_text(
        json.dumps(
            {
                "models": [
                    {
                        "id": "house-model",
                        "provider": "openai",
                        "context_window": 1000,
                        "input_cost_per_million": 1,
                        "output_cost_per_million": 2,
                    }
                ]
            }
        )
    )
    monkeypatch.setenv(cat.CATALOG_ENV, str(extra))
    monkeypatch.setattr(cat, "_default", None)
    try:
        assert cat.get_model_info("house-model").context_window == 1000  # type: ignore[union-attr]
    finally:
        monkeypatch.setattr(cat, "_default", None)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("claude-3-5-haiku-latest", "claude-3-5-haiku"),
        ("gemini-2.5-flash-preview-05-20", "gemini-2.5-flash"),
        ("o3-mini-2025-01-31", "o3-mini"),
        ("claude-sonnet-4-20250514", "claude-sonnet-4-0"),
    ],
)
def test_snapshot_and_preview_names(name: str, expected: str) -> None:
    assert cat.get_model_info(name).id == expected  # type: ignore[union-attr]
