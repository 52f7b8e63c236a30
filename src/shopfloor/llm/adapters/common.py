"""Small translation helpers every adapter needs."""

from __future__ import annotations

import json
import uuid
from typing import Any

from shopfloor.llm.types import (
    ContentKind,
    ContentPart,
    Message,
    Request,
    Role,
    StreamEvent,
    StreamEventType,
    ToolCall,
    ToolCallData,
)


def tool_result_text(content: str | dict[str, Any] | list[Any]) -> str:
    return content if isinstance(content, str) else json.dumps(content)


def tool_call_arguments(data: ToolCallData) -> dict[str, Any]:
    return ToolCall.from_data(data).arguments


def tool_call_json(data: ToolCallData) -> str:
    return data.arguments if isinstance(data.arguments, str) else json.dumps(data.arguments)


def synthetic_call_id() -> str:
    return "call_" + uuid.uuid4().hex[:24]


def system_text(request: Request) -> str:
    """SYSTEM and DEVELOPER messages joined, for providers that take one instruction string."""
    return "\n\n".join(m.text for m in request.messages if m.role in (Role.SYSTEM, Role.DEVELOPER) and m.text)


def tool_names_by_call_id(messages: list[Message]) -> dict[str, str]:
    """call id -> function name, from the assistant tool calls in a history (Gemini needs names back)."""
    names: dict[str, str] = {}
    for message in messages:
        for part in message.content:
            if part.kind == ContentKind.TOOL_CALL and part.tool_call is not None:
                names[part.tool_call.id] = part.tool_call.name
    return names


def text_part(text: str) -> ContentPart:
    return ContentPart(kind=ContentKind.TEXT, text=text)


def event(kind: StreamEventType, **fields: Any) -> StreamEvent:
    """A stream event built without re-validation: adapters pass well-typed values, once per delta."""
    return StreamEvent.model_construct(type=kind, **fields)


def merge_options(body: dict[str, Any], options: dict[str, Any], skip: tuple[str, ...] = ()) -> None:
    """provider_options escape hatch: keys override the body, except lists of tools which extend it."""
    for key, value in options.items():
        if key in skip:
            continue
        if key == "tools" and isinstance(value, list):
            body["tools"] = [*body.get("tools", []), *value]
        elif isinstance(value, dict) and isinstance(body.get(key), dict):
            body[key] = {**body[key], **value}
        else:
            body[key] = value
