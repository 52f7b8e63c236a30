"""Unified LLM client (unified-llm-spec): one data model over native provider APIs.

    from shopfloor import llm
    result = llm.generate("claude-opus-4-6", "Say hello")       # default client from the environment
    print(result.text, result.total_usage.cost_usd)

Layers: `types` (data model), `errors`, `adapters/*` (native wire formats),
`client.Client` (routing, middleware, pricing via `catalog`), and the high-level
`generate` / `stream` / `generate_object` / `stream_object`.

Names are imported on first use, so `import shopfloor.llm.types` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, tuple[str, ...]] = {
    "shopfloor.llm.abort": ("AbortController", "AbortSignal"),
    "shopfloor.llm.catalog": ("get_latest_model", "get_model_info", "list_models"),
    "shopfloor.llm.client": ("Client", "get_default_client", "set_default_client"),
    "shopfloor.llm.generation": ("GenerateResult", "StepResult", "generate"),
    "shopfloor.llm.middleware": (
        "BudgetHook",
        "BudgetMiddleware",
        "CallbackMiddleware",
        "Middleware",
        "TracingMiddleware",
    ),
    "shopfloor.llm.retry": (
        "RetryPolicy",
    ),  # retry() itself: shopfloor.llm.retry.retry (the module owns the name)
    "shopfloor.llm.streaming": ("StreamAccumulator", "StreamResult", "stream"),
    "shopfloor.llm.structured": ("generate_object", "stream_object"),
    "shopfloor.llm.types": (
        "AdapterTimeout",
        "ContentKind",
        "ContentPart",
        "FinishReason",
        "ImageData",
        "Message",
        "ModelInfo",
        "RateLimitInfo",
        "Request",
        "Response",
        "ResponseFormat",
        "Role",
        "StreamEvent",
        "StreamEventType",
        "TimeoutConfig",
        "Tool",
        "ToolCall",
        "ToolChoice",
        "ToolDefinition",
        "ToolResult",
        "Usage",
    ),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'shopfloor.llm' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value
