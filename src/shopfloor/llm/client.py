"""Layer 3, the core client (spec 2.2 / 4.1 / 4.2): routing, model checks, costs, middleware.

`Client.complete` / `Client.stream` never retry (the high-level API does). The
provider of a request is, in order: `request.provider`; the catalog's provider
for the model when that provider is registered; the client's default. A model
the catalog does not know on a provider the catalog lists raises
`UnknownModelError` before anything is sent. Every Response is priced from the
catalog (`Response.cost_usd`).
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any

from shopfloor.llm.adapter import ProviderAdapter
from shopfloor.llm.catalog import Catalog, default_catalog
from shopfloor.llm.errors import (
    AbortError,
    ConfigurationError,
    SDKError,
    UnknownModelError,
    UnsupportedToolChoiceError,
)
from shopfloor.llm.http import CallOptions
from shopfloor.llm.middleware import CompleteNext, Middleware, as_middleware
from shopfloor.llm.types import Request, Response, StreamEvent, StreamEventType

# Environment of the OpenAI-compatible endpoint (Ollama, vLLM, llama.cpp, LM Studio, OpenRouter).
COMPAT_BASE_URL_ENV = "SHOPFLOOR_OPENAI_COMPAT_BASE_URL"
COMPAT_API_KEY_ENV = "SHOPFLOOR_OPENAI_COMPAT_API_KEY"
COMPAT_MODEL_ENV = "SHOPFLOOR_OPENAI_COMPAT_MODEL"
COMPAT_PROVIDER_ENV = "SHOPFLOOR_OPENAI_COMPAT_PROVIDER"
DEFAULT_PROVIDER_ENV = "SHOPFLOOR_LLM_PROVIDER"
ALLOW_UNKNOWN_MODELS_ENV = "SHOPFLOOR_LLM_ALLOW_UNKNOWN_MODELS"
PROVIDER_ENV_HELP = (
    "set OPENAI_API_KEY, ANTHROPIC_API_KEY or GEMINI_API_KEY (with *_BASE_URL for a proxy), "
    f"or {COMPAT_BASE_URL_ENV} (+ {COMPAT_MODEL_ENV}) for Ollama/vLLM/llama.cpp/LM Studio"
)


def _env(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name, "").strip()
    return value or None  # an empty string counts as unset


class Client:
    def __init__(
        self,
        providers: Mapping[str, ProviderAdapter] | None = None,
        *,
        default_provider: str | None = None,
        middleware: list[Middleware | Callable[[Request, CompleteNext], Response]] | None = None,
        catalog: Catalog | None = None,
        strict_models: bool | None = None,
        default_models: Mapping[str, str] | None = None,
    ) -> None:
        self.providers: dict[str, ProviderAdapter] = dict(providers or {})
        self.default_provider = default_provider or next(iter(self.providers), None)
        if self.default_provider is not None and self.default_provider not in self.providers:
            raise ConfigurationError(
                f"default provider {self.default_provider!r} is not registered "
                f"(registered: {', '.join(self.providers) or 'none'})"
            )
        self.middleware = [as_middleware(m) for m in middleware or []]
        self.catalog = catalog or default_catalog()
        self.strict_models = (
            strict_models
            if strict_models is not None
            else os.environ.get(ALLOW_UNKNOWN_MODELS_ENV, "").strip() not in ("1", "true", "yes")
        )
        self.default_models = dict(default_models or {})

    # -- construction -------------------------------------------------------------------------------

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **kwargs: Any) -> Client:
        """Register every provider whose key (or compat base URL) is set; the first is the default."""
        from shopfloor.llm.adapters.anthropic import AnthropicAdapter
        from shopfloor.llm.adapters.gemini import GeminiAdapter
        from shopfloor.llm.adapters.openai import OpenAIAdapter
        from shopfloor.llm.adapters.openai_compat import OpenAICompatibleAdapter

        env = os.environ if environ is None else environ
        providers: dict[str, ProviderAdapter] = {}
        default_models: dict[str, str] = {}
        if key := _env(env, "OPENAI_API_KEY"):
            providers["openai"] = OpenAIAdapter(
                key,
                _env(env, "OPENAI_BASE_URL"),
                organization=_env(env, "OPENAI_ORG_ID"),
                project=_env(env, "OPENAI_PROJECT_ID"),
            )
        if key := _env(env, "ANTHROPIC_API_KEY"):
            providers["anthropic"] = AnthropicAdapter(key, _env(env, "ANTHROPIC_BASE_URL"))
        if key := _env(env, "GEMINI_API_KEY") or _env(env, "GOOGLE_API_KEY"):
            providers["gemini"] = GeminiAdapter(key, _env(env, "GEMINI_BASE_URL"))
        if base := _env(env, COMPAT_BASE_URL_ENV):
            compat = OpenAICompatibleAdapter(
                base, _env(env, COMPAT_API_KEY_ENV), name=_env(env, COMPAT_PROVIDER_ENV)
            )
            providers[compat.name] = compat
            if model := _env(env, COMPAT_MODEL_ENV):
                default_models[compat.name] = model
        default = _env(env, DEFAULT_PROVIDER_ENV)
        if default is not None and default not in providers:
            raise ConfigurationError(
                f"{DEFAULT_PROVIDER_ENV}={default} but that provider is not configured "
                f"(configured: {', '.join(providers) or 'none'})"
            )
        return cls(providers, default_provider=default, default_models=default_models, **kwargs)

    def register(self, adapter: ProviderAdapter, *, default: bool = False) -> None:
        self.providers[adapter.name] = adapter
        if default or self.default_provider is None:
            self.default_provider = adapter.name

    def close(self) -> None:
        for adapter in self.providers.values():
            adapter.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- routing ------------------------------------------------------------------------------------

    def resolve_provider(self, request: Request) -> str:
        if request.provider is not None:
            if request.provider not in self.providers:
                raise ConfigurationError(
                    f"provider {request.provider!r} is not configured "
                    f"(configured: {', '.join(self.providers) or 'none'}); {PROVIDER_ENV_HELP}"
                )
            return request.provider
        info = self.catalog.get(request.model)
        if info is not None and info.provider in self.providers:
            return info.provider
        if self.default_provider is None:
            raise ConfigurationError(f"no LLM provider configured; {PROVIDER_ENV_HELP}")
        return self.default_provider

    def default_model(self, provider: str | None = None) -> str:
        """The model to use when a caller names none: configured for compat servers, else the newest."""
        name = provider or self.default_provider
        if name is None:
            raise ConfigurationError(f"no LLM provider configured; {PROVIDER_ENV_HELP}")
        if name in self.default_models:
            return self.default_models[name]
        info = self.catalog.latest(name)
        if info is None:
            raise ConfigurationError(f"no default model for provider {name!r}; pass a model")
        return info.id

    def _prepare(self, request: Request) -> tuple[Request, ProviderAdapter]:
        provider = self.resolve_provider(request)
        if (
            self.strict_models
            and self.catalog.serves(provider)
            and self.catalog.get(request.model, provider) is None
        ):
            known = ", ".join(m.id for m in self.catalog.list(provider)[:8])
            raise UnknownModelError(
                f"unknown model {request.model!r} (known: {known}, …; see "
                f"`shopfloor conformance list-models`; set {ALLOW_UNKNOWN_MODELS_ENV}=1 "
                "to send unlisted models anyway)",
                provider=provider,
            )
        adapter = self.providers[provider]
        if request.tool_choice is not None and not adapter.supports_tool_choice(request.tool_choice.mode):
            raise UnsupportedToolChoiceError(
                f"{provider} does not support tool choice {request.tool_choice.mode!r}"
            )
        if request.provider != provider:
            request = request.model_copy(update={"provider": provider})
        return request, adapter

    def _price(self, response: Response, request: Request) -> Response:
        response.provider = response.provider or request.provider or ""
        response.usage.cost_usd = self.catalog.cost(response.usage, request.model, request.provider or "")
        return response

    # -- calls --------------------------------------------------------------------------------------

    def complete(
        self, request: Request, *, timeout: float | None = None, abort_signal: Any | None = None
    ) -> Response:
        """Send one request and return the whole Response (no retries)."""
        request, adapter = self._prepare(request)
        options = CallOptions(timeout=timeout, abort_signal=abort_signal)

        def send(req: Request) -> Response:
            if abort_signal is not None:
                abort_signal.raise_if_aborted()
            return self._price(adapter.complete(req, options), req)

        handler: CompleteNext = send
        for mw in reversed(self.middleware):
            handler = _bind_complete(mw, handler)
        return handler(request)

    def stream(
        self, request: Request, *, timeout: float | None = None, abort_signal: Any | None = None
    ) -> Iterator[StreamEvent]:
        """Send one request and yield its events; ends with FINISH (priced) or ERROR (no retries).

        Errors before the first event are raised (so callers can retry the connection);
        a failure after data has flowed becomes one ERROR event carrying the error.
        """
        request, adapter = self._prepare(request)
        options = CallOptions(timeout=timeout, abort_signal=abort_signal)

        def send(req: Request) -> Iterator[StreamEvent]:
            return self._guarded_stream(adapter, req, options)

        handler: Callable[[Request], Iterator[StreamEvent]] = send
        for mw in reversed(self.middleware):
            handler = _bind_stream(mw, handler)
        return handler(request)

    async def acomplete(
        self, request: Request, *, timeout: float | None = None, abort_signal: Any | None = None
    ) -> Response:
        """`complete` for asyncio code: the blocking call runs on a worker thread."""
        return await asyncio.to_thread(self.complete, request, timeout=timeout, abort_signal=abort_signal)

    async def astream(
        self, request: Request, *, timeout: float | None = None, abort_signal: Any | None = None
    ) -> AsyncIterator[StreamEvent]:
        """`stream` as an async iterator; each event is read on a worker thread.

        To stop early, abort the signal: the connection closes and the stream raises AbortError.
        """
        events = self.stream(request, timeout=timeout, abort_signal=abort_signal)
        done = object()
        while (event := await asyncio.to_thread(next, events, done)) is not done:
            yield event  # type: ignore[misc]

    def _guarded_stream(
        self, adapter: ProviderAdapter, request: Request, options: CallOptions
    ) -> Iterator[StreamEvent]:
        delivered = False
        signal = options.abort_signal
        try:
            for event in adapter.stream(request, options):
                if signal is not None:
                    signal.raise_if_aborted()
                if event.type == StreamEventType.FINISH and event.response is not None:
                    self._price(event.response, request)
                    event.usage = event.response.usage
                delivered = True
                yield event
        except AbortError:
            raise
        except SDKError as exc:
            if not delivered:
                raise
            yield StreamEvent(type=StreamEventType.ERROR, error=exc)


def _bind_complete(mw: Middleware, call_next: CompleteNext) -> CompleteNext:
    return lambda request: mw.complete(request, call_next)


def _bind_stream(
    mw: Middleware, call_next: Callable[[Request], Iterator[StreamEvent]]
) -> Callable[[Request], Iterator[StreamEvent]]:
    return lambda request: mw.stream(request, call_next)


_default_client: Client | None = None
_default_built_here = False  # built from the environment by get_default_client, so ours to close
_default_lock = threading.Lock()


def set_default_client(client: Client | None) -> None:
    """Use `client` for high-level calls that pass none (None: rebuild from the environment next time).

    A default that was built from the environment is closed when replaced; one you set is yours.
    """
    global _default_client, _default_built_here
    with _default_lock:
        if _default_built_here and _default_client is not None and _default_client is not client:
            _default_client.close()
        _default_client, _default_built_here = client, False


def get_default_client() -> Client:
    """The module-level client, built lazily from the environment on first use."""
    global _default_client, _default_built_here
    with _default_lock:
        if _default_client is None:
            _default_client, _default_built_here = Client.from_env(), True
        return _default_client
