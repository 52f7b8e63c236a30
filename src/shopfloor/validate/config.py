"""`[validate]` in shopfloor.toml: defaults for scenario runs (flags and node attributes win)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from shopfloor.validate.leaks import (
    DEFAULT_LEAK_MAX_FILE_BYTES,
    DEFAULT_LEAK_MIN_SHINGLES,
    DEFAULT_SHINGLE_WORDS,
)
from shopfloor.validate.report import DEFAULT_LOWER_BOUND, DEFAULT_REDACTION, DEFAULT_THRESHOLD, Redaction
from shopfloor.validate.runner import DEFAULT_PARALLELISM


class ValidateConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scenarios: str | None = None  # the sealed suite's directory, relative to shopfloor.toml
    threshold: float = Field(DEFAULT_THRESHOLD, ge=0, le=1)
    lower_bound: float = Field(DEFAULT_LOWER_BOUND, ge=0, le=1)
    trajectories: int | None = Field(None, ge=1)
    parallel: int = Field(DEFAULT_PARALLELISM, ge=1)
    redaction: Redaction = DEFAULT_REDACTION
    judge_model: str | None = None
    shingle_words: int = Field(DEFAULT_SHINGLE_WORDS, ge=2)
    leak_min_shingles: int = Field(DEFAULT_LEAK_MIN_SHINGLES, ge=1)
    leak_max_file_bytes: int = Field(DEFAULT_LEAK_MAX_FILE_BYTES, ge=1)
