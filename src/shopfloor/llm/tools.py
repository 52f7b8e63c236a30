"""Running the tools a model asked for (spec 5.2 / 5.7 / 5.8).

All calls of one response run concurrently; the results come back in call
order, one per call. Arguments are parsed and validated against the tool's JSON
Schema first; an invalid call is offered to `repair` when one is given. Unknown
tools, invalid arguments and handler exceptions become error results
(`is_error=True`) for the model to see, never exceptions.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator

from shopfloor.llm.abort import AbortSignal
from shopfloor.llm.errors import InvalidToolCallError
from shopfloor.llm.types import Message, Tool, ToolCall, ToolResult

# Tool handlers of one response that run at the same time.
DEFAULT_MAX_PARALLEL_TOOLS = 8
# Context a handler receives when its signature names it.
INJECTABLE = ("messages", "abort_signal", "tool_call_id")

RepairFn = Callable[[ToolCall, Tool, str], "ToolCall | None"]


@lru_cache(maxsize=256)
def _validator(schema_json: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads(schema_json))


def validation_errors(tool: Tool, arguments: dict[str, Any]) -> list[str]:
    """Human-readable schema violations of `arguments` (empty when valid)."""
    validator = _validator(json.dumps(tool.parameters, sort_keys=True))
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
        for e in validator.iter_errors(arguments)
    ]


def check_call(tool: Tool, call: ToolCall) -> ToolCall:
    """The call with parsed, schema-valid arguments, or InvalidToolCallError saying what is wrong."""
    if call.raw_arguments is not None and call.raw_arguments.strip():
        try:
            parsed = json.loads(call.raw_arguments)
        except ValueError as exc:
            raise InvalidToolCallError(f"arguments of {call.name} are not valid JSON: {exc}") from exc
        if not isinstance(parsed, dict):
            raise InvalidToolCallError(f"arguments of {call.name} must be a JSON object")
        call = call.model_copy(update={"arguments": parsed})
    errors = validation_errors(tool, call.arguments)
    if errors:
        raise InvalidToolCallError(f"invalid arguments for {call.name}: " + "; ".join(errors[:5]))
    return call


def _invoke(
    handler: Callable[..., Any], call: ToolCall, messages: list[Message], abort_signal: AbortSignal | None
) -> Any:
    params = inspect.signature(handler).parameters
    context = {"messages": messages, "abort_signal": abort_signal, "tool_call_id": call.id}
    injected = {k: v for k, v in context.items() if k in params}
    plain = [p for name, p in params.items() if name not in INJECTABLE]
    takes_kwargs = any(p.kind == p.VAR_KEYWORD for p in plain)
    # A handler with one parameter that is not an argument name gets the whole dict.
    if len(plain) == 1 and not takes_kwargs and plain[0].name not in call.arguments:
        result = handler(call.arguments, **injected)
    else:
        result = handler(**call.arguments, **injected)
    if inspect.isawaitable(result):
        result = asyncio.run(_await(result))
    return result


async def _await(awaitable: Any) -> Any:
    return await awaitable


def _content(value: Any) -> str | dict[str, Any] | list[Any]:
    if isinstance(value, str | dict | list):
        return value
    if value is None:
        return ""
    try:
        json.dumps(value)
        return json.dumps(value)
    except (TypeError, ValueError):
        return str(value)


def execute_one(
    tools: dict[str, Tool],
    call: ToolCall,
    messages: list[Message],
    abort_signal: AbortSignal | None,
    repair: RepairFn | None,
) -> ToolResult:
    tool = tools.get(call.name)
    if tool is None or tool.execute is None:
        known = ", ".join(sorted(tools)) or "none"
        return ToolResult(
            tool_call_id=call.id, content=f"Unknown tool: {call.name} (available: {known})", is_error=True
        )
    try:
        call = check_call(tool, call)
    except InvalidToolCallError as error:
        fixed = repair(call, tool, error.message) if repair is not None else None
        if fixed is None:
            return ToolResult(tool_call_id=call.id, content=error.message, is_error=True)
        try:
            call = check_call(tool, fixed.model_copy(update={"id": call.id}))
        except InvalidToolCallError as again:
            return ToolResult(tool_call_id=call.id, content=again.message, is_error=True)
    try:
        return ToolResult(
            tool_call_id=call.id, content=_content(_invoke(tool.execute, call, messages, abort_signal))
        )
    except Exception as exc:  # a failing tool is a result the model can react to
        return ToolResult(tool_call_id=call.id, content=f"{type(exc).__name__}: {exc}", is_error=True)


def execute_all(
    tools: list[Tool],
    calls: list[ToolCall],
    *,
    messages: list[Message] | None = None,
    abort_signal: AbortSignal | None = None,
    repair: RepairFn | None = None,
    max_parallel: int = DEFAULT_MAX_PARALLEL_TOOLS,
) -> list[ToolResult]:
    """Run every call concurrently and return one result per call, in call order."""
    by_name = {t.name: t for t in tools}
    history = list(messages or [])
    if len(calls) <= 1:
        return [execute_one(by_name, c, history, abort_signal, repair) for c in calls]
    with ThreadPoolExecutor(max_workers=min(max_parallel, len(calls)), thread_name_prefix="llm-tool") as pool:
        futures = [pool.submit(execute_one, by_name, c, history, abort_signal, repair) for c in calls]
        return [f.result() for f in futures]
