"""`shopfloor conformance client-from-env|list-models|complete|stream|tool-call|generate-object`.

Input (stdin, for complete/stream/tool-call/generate-object) is one JSON object:
`model`, optional `provider`, `messages` written as OpenAI chat histories
(string or part-list content, image_url parts, assistant `tool_calls`, `tool`
messages), `max_tokens`, optional `tools`, `tool_choice`, `response_schema`.
Output is JSON on stdout; an error is printed as {"error": {...}} and exits 1.
The low-level client is used as the spec defines it: no automatic retries.
"""

from __future__ import annotations

import base64
import json
import sys
from typing import Any, NoReturn

import typer

from shopfloor.conformance.stdio import fail, parse_request


def _read_input() -> dict[str, Any]:
    return parse_request(sys.stdin.read(), empty_ok=False)


def _parts(content: Any) -> list[Any]:
    from shopfloor.llm.media import split_data_uri
    from shopfloor.llm.types import ContentPart

    if content is None:
        return []
    if isinstance(content, str):
        return [ContentPart.of_text(content)]
    parts = []
    for item in content:
        if isinstance(item, str):
            parts.append(ContentPart.of_text(item))
        elif item.get("type") in ("text", "input_text", "output_text"):
            parts.append(ContentPart.of_text(item.get("text", "")))
        elif item.get("type") in ("image_url", "input_image"):
            image = item.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            detail = image.get("detail") if isinstance(image, dict) else item.get("detail")
            inline = split_data_uri(url or "")
            if inline is not None:
                parts.append(
                    ContentPart.of_image(
                        data=base64.b64decode(inline[1]), media_type=inline[0], detail=detail
                    )
                )
            else:
                parts.append(ContentPart.of_image(url=url, detail=detail))
        elif "kind" in item:
            parts.append(ContentPart.model_validate(item))
    return parts


def to_messages(items: list[dict[str, Any]]) -> list[Any]:
    """OpenAI chat-style messages (or shopfloor's own) as unified Messages."""
    from shopfloor.llm.types import ContentKind, ContentPart, Message, Role, ToolCallData

    out = []
    for item in items:
        role = item.get("role", "user")
        if role == "tool":
            out.append(
                Message.tool_result(
                    item.get("tool_call_id", ""),
                    _text(item.get("content")),
                    bool(item.get("is_error", False)),
                    name=item.get("name"),
                )
            )
            continue
        parts = _parts(item.get("content"))
        for call in item.get("tool_calls") or []:
            fn = call.get("function") or call
            parts.append(
                ContentPart(
                    kind=ContentKind.TOOL_CALL,
                    tool_call=ToolCallData(
                        id=call.get("id", ""), name=fn.get("name", ""), arguments=fn.get("arguments") or "{}"
                    ),
                )
            )
        out.append(Message(role=Role(role), content=parts, name=item.get("name")))
    return out


def _text(content: Any) -> str:
    if isinstance(content, list):
        return "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
    return content if isinstance(content, str) else json.dumps(content)


def _tools(items: list[dict[str, Any]] | None) -> list[Any] | None:
    from shopfloor.llm.types import ToolDefinition

    if not items:
        return None
    return [
        ToolDefinition(
            name=(fn := t.get("function") or t)["name"],
            description=fn.get("description", ""),
            parameters=fn.get("parameters") or {"type": "object", "properties": {}},
        )
        for t in items
    ]


def _tool_choice(value: Any) -> Any:
    from shopfloor.llm.types import ToolChoice

    if value is None:
        return None
    if isinstance(value, str):
        return ToolChoice(mode=value)
    name = (value.get("function") or value).get("name")
    return ToolChoice(mode="named", tool_name=name)


def _schema(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    if "schema" in value and "type" not in value:  # OpenAI's {"name":…, "schema": {...}} wrapper
        return value["schema"]
    return value


def build_request(data: dict[str, Any], client: Any) -> Any:
    from shopfloor.llm.types import Request, ResponseFormat

    schema = _schema(data.get("response_schema"))
    try:
        return Request(
            model=data.get("model") or client.default_model(data.get("provider")),
            provider=data.get("provider"),
            messages=to_messages(data.get("messages") or []),
            max_tokens=data.get("max_tokens"),
            temperature=data.get("temperature"),
            tools=_tools(data.get("tools")),
            tool_choice=_tool_choice(data.get("tool_choice")),
            response_format=ResponseFormat(type="json_schema", json_schema=schema) if schema else None,
        )
    except (ValueError, KeyError, TypeError) as exc:
        fail("invalid_input", str(exc).splitlines()[0])


def response_json(response: Any) -> dict[str, Any]:
    return {
        "id": response.id,
        "model": response.model,
        "provider": response.provider,
        "text": response.text,
        "content": [p.model_dump(mode="json", exclude_none=True) for p in response.message.content],
        "tool_calls": [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in response.tool_calls],
        "reasoning": response.reasoning,
        "finish_reason": response.finish_reason.reason,
        "finish_reason_raw": response.finish_reason.raw,
        "usage": response.usage.model_dump(exclude={"raw"}),
        "cost_usd": response.cost_usd,
    }


def _event_json(event: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": str(event.type)}
    for name in ("delta", "text_id", "reasoning_delta"):
        if (value := getattr(event, name)) is not None:
            out[name] = value
    if event.tool_call is not None:
        out["tool_call"] = {
            "id": event.tool_call.id,
            "name": event.tool_call.name,
            "arguments": event.tool_call.arguments,
        }
    if event.finish_reason is not None:
        out["finish_reason"] = event.finish_reason.reason
    if event.usage is not None:
        out["usage"] = event.usage.model_dump(exclude={"raw"})
    if event.response is not None:
        out.update(done=True, text=event.response.text, response=response_json(event.response))
    return out


def _client() -> Any:
    from shopfloor.llm.client import PROVIDER_ENV_HELP, Client
    from shopfloor.llm.errors import ConfigurationError

    try:
        client = Client.from_env()
    except ConfigurationError as exc:
        fail("configuration_error", exc.message)
    if not client.providers:
        fail("configuration_error", f"no LLM provider configured; {PROVIDER_ENV_HELP}")
    return client


def _sdk_error(exc: Exception) -> NoReturn:
    from shopfloor.llm.errors import ProviderError

    extra: dict[str, Any] = {"retryable": getattr(exc, "retryable", False)}
    if isinstance(exc, ProviderError):
        extra.update(provider=exc.provider, status_code=exc.status_code, error_code=exc.error_code)
    if getattr(exc, "retry_after", None) is not None:
        extra["retry_after"] = exc.retry_after
    fail(type(exc).__name__, getattr(exc, "message", str(exc)), **extra)


def _complete(data: dict[str, Any]) -> None:
    from shopfloor.llm.errors import SDKError

    client = _client()
    try:
        print(json.dumps(response_json(client.complete(build_request(data, client)))))
    except SDKError as exc:
        _sdk_error(exc)


def register(app: typer.Typer) -> None:
    @app.command("client-from-env")
    def client_from_env() -> None:
        """Build a client from the environment; exit 1 when no provider is configured."""
        client = _client()
        print(
            json.dumps({"providers": sorted(client.providers), "default_provider": client.default_provider})
        )

    @app.command("list-models")
    def list_models_command() -> None:
        """The model catalog as a JSON array."""
        from shopfloor.llm.catalog import list_models

        print(json.dumps([m.model_dump() for m in list_models()]))

    @app.command("complete")
    def complete_command() -> None:
        """stdin request -> the Response as one JSON object."""
        _complete(_read_input())

    @app.command("tool-call")
    def tool_call_command() -> None:
        """stdin request with tools -> the Response with the model's tool calls."""
        data = _read_input()
        if not data.get("tools"):
            fail("invalid_input", "tool-call needs `tools` in the request")
        _complete(data)

    @app.command("stream")
    def stream_command() -> None:
        """stdin request -> one JSON object per stream event; the last has "done": true."""
        from shopfloor.llm.errors import SDKError
        from shopfloor.llm.types import StreamEventType

        data = _read_input()
        client = _client()
        try:
            for event in client.stream(build_request(data, client)):
                if event.type == StreamEventType.PROVIDER_EVENT:
                    continue
                if event.type == StreamEventType.ERROR:
                    _sdk_error(event.error or SDKError("stream failed"))
                print(json.dumps(_event_json(event)), flush=True)
        except SDKError as exc:
            _sdk_error(exc)

    @app.command("generate-object")
    def generate_object_command() -> None:
        """stdin request with response_schema -> the parsed, validated object."""
        from shopfloor.llm.errors import SDKError
        from shopfloor.llm.structured import generate_object

        data = _read_input()
        schema = _schema(data.get("response_schema"))
        if schema is None:
            fail("invalid_input", "generate-object needs `response_schema` in the request")
        client = _client()
        request = build_request({**data, "response_schema": None}, client)
        try:
            result = generate_object(
                request.model,
                messages=request.messages,
                schema=schema,
                provider=request.provider,
                max_tokens=request.max_tokens,
                client=client,
                max_retries=0,
            )
        except SDKError as exc:
            _sdk_error(exc)
        print(json.dumps(result.output))
