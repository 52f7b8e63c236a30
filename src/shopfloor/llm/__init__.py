"""Unified LLM client (unified-llm-spec): one data model over native provider APIs.

    from shopfloor import llm
    result = llm.generate("claude-opus-4-6", "Say hello")       # default client from the environment
    print(result.text, result.total_usage.cost_usd)

Layers: `types` (data model), `errors`, `adapters/*` (native wire formats),
`client.Client` (routing, middleware, pricing via `catalog`), and the high-level
`generate` / `stream` / `generate_object` / `stream_object`.
"""

from shopfloor.llm.abort import AbortController, AbortSignal
from shopfloor.llm.catalog import get_latest_model, get_model_info, list_models
from shopfloor.llm.client import Client, get_default_client, set_default_client
from shopfloor.llm.errors import *  # noqa: F403 - the taxonomy is part of the public API
from shopfloor.llm.generate import GenerateResult, StepResult, generate
from shopfloor.llm.middleware import (
    BudgetHook,
    BudgetMiddleware,
    CallbackMiddleware,
    Middleware,
    TracingMiddleware,
)
from shopfloor.llm.retry import RetryPolicy, retry
from shopfloor.llm.streaming import StreamAccumulator, StreamResult, stream
from shopfloor.llm.structured import generate_object, stream_object
from shopfloor.llm.types import *  # noqa: F403 - the data model is part of the public API

__all__ = [
    "AbortController",
    "AbortSignal",
    "BudgetHook",
    "BudgetMiddleware",
    "CallbackMiddleware",
    "Client",
    "GenerateResult",
    "Middleware",
    "RetryPolicy",
    "StepResult",
    "StreamAccumulator",
    "StreamResult",
    "TracingMiddleware",
    "generate",
    "generate_object",
    "get_default_client",
    "get_latest_model",
    "get_model_info",
    "list_models",
    "retry",
    "set_default_client",
    "stream",
    "stream_object",
]
