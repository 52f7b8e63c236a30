"""The model catalog (spec 2.9): known models, context windows and USD prices.

The data lives in `models.json` next to this module (newest model first per
provider) and can be extended with a JSON file named by $SHOPFLOOR_LLM_CATALOG.
The client uses it twice: to refuse a model name that a catalogued provider
does not serve (before anything is sent), and to price every Response.

Pricing rule: `Usage.input_tokens` counts every prompt token, cached or not (the
adapters normalise Anthropic to this). Cached reads and cache writes are billed
at their own rates when the entry has them, else at the input rate. A model
without a price costs `DEFAULT_UNKNOWN_*_COST_PER_MILLION` and logs one warning.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from importlib import resources
from pathlib import Path

from shopfloor.llm.types import ModelInfo, Request, Usage

log = logging.getLogger(__name__)

CATALOG_ENV = "SHOPFLOOR_LLM_CATALOG"
DEFAULT_INPUT_COST_ENV = "SHOPFLOOR_LLM_DEFAULT_INPUT_COST_PER_MILLION"
DEFAULT_OUTPUT_COST_ENV = "SHOPFLOOR_LLM_DEFAULT_OUTPUT_COST_PER_MILLION"
# A model with no known price is charged like a mid-range hosted model, so that
# budgets stay meaningful; set both to 0 for local models (Ollama, llama.cpp).
DEFAULT_UNKNOWN_INPUT_COST_PER_MILLION = 3.0
DEFAULT_UNKNOWN_OUTPUT_COST_PER_MILLION = 15.0
# Prompt size guess for budget reservations: characters per token.
DEFAULT_CHARS_PER_TOKEN = 4
# Output tokens assumed for a reservation when the request sets no max_tokens.
DEFAULT_RESERVED_OUTPUT_TOKENS = 4096

# Dated snapshots and pinned versions of a catalogued id are the same model.
_SNAPSHOT_SUFFIX = re.compile(r"^-(\d{4}-?\d{2}-?\d{2}|\d{3}|latest|(preview|exp)(-[\d-]+)?)$")


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    try:
        return float(raw) if raw else default
    except ValueError:
        log.warning("ignoring %s=%r: not a number", name, raw)
        return default


class Catalog:
    def __init__(
        self,
        models: list[ModelInfo],
        *,
        default_input_cost_per_million: float | None = None,
        default_output_cost_per_million: float | None = None,
    ) -> None:
        self._models: list[ModelInfo] = []
        self._index: dict[str, ModelInfo] = {}
        self._lock = threading.Lock()
        self._warned: set[tuple[str, str]] = set()
        self.default_input_cost_per_million = (
            default_input_cost_per_million
            if default_input_cost_per_million is not None
            else _env_float(DEFAULT_INPUT_COST_ENV, DEFAULT_UNKNOWN_INPUT_COST_PER_MILLION)
        )
        self.default_output_cost_per_million = (
            default_output_cost_per_million
            if default_output_cost_per_million is not None
            else _env_float(DEFAULT_OUTPUT_COST_ENV, DEFAULT_UNKNOWN_OUTPUT_COST_PER_MILLION)
        )
        for info in models:
            self.register(info)

    def register(self, info: ModelInfo) -> None:
        """Add (or replace) a model; later registrations win for the same id."""
        with self._lock:
            self._models = [m for m in self._models if not (m.id == info.id and m.provider == info.provider)]
            self._models.append(info)
            for key in (info.id, *info.aliases):
                self._index[f"{info.provider}/{key}"] = info
                self._index.setdefault(key, info)

    @property
    def providers(self) -> set[str]:
        return {m.provider for m in self._models}

    def get(self, model_id: str, provider: str | None = None) -> ModelInfo | None:
        """The entry for an id, alias or dated snapshot of one; None when unknown."""
        key = f"{provider}/{model_id}" if provider else model_id
        if key in self._index:
            return self._index[key]
        for info in self._models:
            if provider and info.provider != provider:
                continue
            for name in (info.id, *info.aliases):
                if model_id.startswith(name) and _SNAPSHOT_SUFFIX.match(model_id[len(name) :]):
                    return info
        return None

    def list(self, provider: str | None = None) -> list[ModelInfo]:
        return [m for m in self._models if provider is None or m.provider == provider]

    def latest(self, provider: str, capability: str | None = None) -> ModelInfo | None:
        """The first (newest) model of a provider, optionally with a capability: tools, vision, reasoning."""
        for info in self.list(provider):
            if capability is None or getattr(info, f"supports_{capability}", False):
                return info
        return None

    def serves(self, provider: str) -> bool:
        """Whether the catalog lists this provider's models (and so can vouch for a model name)."""
        return provider in self.providers

    def _prices(self, model: str, provider: str) -> tuple[float, float, float, float]:
        info = self.get(model, provider)
        if info is None or info.input_cost_per_million is None or info.output_cost_per_million is None:
            key = (provider, model)
            if key not in self._warned:
                self._warned.add(key)
                log.warning(
                    "no price known for %s model %r: charging the default $%g/$%g per 1M "
                    "input/output tokens (set %s / %s to change it)",
                    provider,
                    model,
                    self.default_input_cost_per_million,
                    self.default_output_cost_per_million,
                    DEFAULT_INPUT_COST_ENV,
                    DEFAULT_OUTPUT_COST_ENV,
                )
            inp, out = self.default_input_cost_per_million, self.default_output_cost_per_million
            return inp, out, inp, inp
        inp, out = info.input_cost_per_million, info.output_cost_per_million
        read = info.cache_read_cost_per_million if info.cache_read_cost_per_million is not None else inp
        write = info.cache_write_cost_per_million if info.cache_write_cost_per_million is not None else inp
        return inp, out, read, write

    def cost(self, usage: Usage, model: str, provider: str) -> float:
        """USD for `usage` on this model (never raises; unknown prices use the defaults)."""
        inp, out, read, write = self._prices(model, provider)
        cached = usage.cache_read_tokens or 0
        written = usage.cache_write_tokens or 0
        fresh = max(0, usage.input_tokens - cached - written)
        total = fresh * inp + cached * read + written * write + usage.output_tokens * out
        return round(total / 1_000_000, 10)

    def estimate_cost(self, request: Request, provider: str) -> float:
        """An upper-bound guess of a request's cost, for budget reservations before sending."""
        chars = sum(len(p.text or "") for m in request.messages for p in m.content)
        chars += sum(len(json.dumps(t.parameters)) + len(t.description) for t in request.tools or [])
        prompt_tokens = chars // DEFAULT_CHARS_PER_TOKEN + 1
        info = self.get(request.model, provider)
        max_out = (
            request.max_tokens
            or (info.max_output if info and info.max_output else None)
            or DEFAULT_RESERVED_OUTPUT_TOKENS
        )
        return self.cost(Usage(input_tokens=prompt_tokens, output_tokens=max_out), request.model, provider)


def _load_extra(path: str) -> list[ModelInfo]:
    try:
        data = json.loads(Path(path).read_text())
        return [ModelInfo.model_validate(m) for m in data.get("models", [])]
    except (OSError, ValueError, AttributeError) as exc:
        log.warning("ignoring %s=%s: %s", CATALOG_ENV, path, exc)
        return []


_default: Catalog | None = None
_default_lock = threading.Lock()


def default_catalog() -> Catalog:
    """The shipped catalog plus $SHOPFLOOR_LLM_CATALOG entries, loaded once."""
    global _default
    with _default_lock:
        if _default is None:
            shipped = json.loads(resources.files("shopfloor.llm").joinpath("models.json").read_text())
            models = [ModelInfo.model_validate(m) for m in shipped["models"]]
            extra = os.environ.get(CATALOG_ENV, "").strip()
            if extra:
                models += _load_extra(extra)
            _default = Catalog(models)
        return _default


def get_model_info(model_id: str) -> ModelInfo | None:
    return default_catalog().get(model_id)


def list_models(provider: str | None = None) -> list[ModelInfo]:
    return default_catalog().list(provider)


def get_latest_model(provider: str, capability: str | None = None) -> ModelInfo | None:
    return default_catalog().latest(provider, capability)
