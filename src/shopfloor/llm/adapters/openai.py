"""OpenAI through its native Responses API (`POST /v1/responses`), JSON and SSE."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx

from shopfloor.llm.adapters.base import HttpAdapter
from shopfloor.llm.adapters.common import (
    event,
    merge_options,
    text_part,
    tool_call_json,
    tool_result_text,
)
from shopfloor.llm.errors import InvalidRequestError, StreamError, error_from_status
from shopfloor.llm.http import CallOptions, decode_event, parse_rate_limit
from shopfloor.llm.media import data_uri, inline_payload
from shopfloor.llm.types import (
    AdapterTimeout,
    ContentKind,
    ContentPart,
    FinishReason,
    Message,
    Request,
    Response,
    Role,
    StreamEvent,
    StreamEventType,
    ThinkingData,
    ToolCall,
    ToolCallData,
    Usage,
    Warning,
)

DEFAULT_OPENAI_BASE_URL = "https://api.openai.com/v1"


class OpenAIAdapter(HttpAdapter):
    def __init__(
        self,
        api_key: str,
        base_url: str | None = None,
        *,
        organization: str | None = None,
        project: str | None = None,
        default_headers: dict[str, str] | None = None,
        timeout: AdapterTimeout | None = None,
        http_client: httpx.Client | None = None,
        name: str = "openai",
    ) -> None:
        headers = {"authorization": f"Bearer {api_key}", **(default_headers or {})}
        if organization:
            headers["openai-organization"] = organization
        if project:
            headers["openai-project"] = project
        super().__init__(name, base_url or DEFAULT_OPENAI_BASE_URL, headers, timeout, http_client)

    # -- request translation ------------------------------------------------------------------------

    def _content(self, message: Message) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        text_type = "output_text" if message.role == Role.ASSISTANT else "input_text"
        for part in message.content:
            if part.kind == ContentKind.TEXT:
                out.append({"type": text_type, "text": part.text or ""})
            elif part.kind == ContentKind.IMAGE and part.image is not None:
                img = part.image
                inline = inline_payload(img.url, img.data, img.media_type, self.name)
                item: dict[str, Any] = {
                    "type": "input_image",
                    "image_url": data_uri(*inline) if inline else img.url,
                }
                if img.detail:
                    item["detail"] = img.detail
                out.append(item)
            elif part.kind == ContentKind.DOCUMENT and part.document is not None:
                doc = part.document
                inline = inline_payload(doc.url, doc.data, doc.media_type or "application/pdf", self.name)
                if inline:
                    out.append(
                        {
                            "type": "input_file",
                            "filename": doc.file_name or "document.pdf",
                            "file_data": data_uri(*inline),
                        }
                    )
                else:
                    out.append({"type": "input_file", "file_url": doc.url})
            elif part.kind == ContentKind.AUDIO:
                raise InvalidRequestError(
                    "audio input is not supported by the OpenAI Responses API adapter", provider=self.name
                )
        return out

    def _input(self, request: Request) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for message in request.messages:
            if message.role == Role.SYSTEM:
                continue  # -> instructions
            if message.role == Role.TOOL:
                for part in message.content:
                    if part.kind == ContentKind.TOOL_RESULT and part.tool_result is not None:
                        items.append(
                            {
                                "type": "function_call_output",
                                "call_id": part.tool_result.tool_call_id,
                                "output": tool_result_text(part.tool_result.content),
                            }
                        )
                continue
            content = self._content(message)
            if content:
                items.append({"type": "message", "role": message.role.value, "content": content})
            for part in message.content:
                if part.kind == ContentKind.TOOL_CALL and part.tool_call is not None:
                    items.append(
                        {
                            "type": "function_call",
                            "call_id": part.tool_call.id,
                            "name": part.tool_call.name,
                            "arguments": tool_call_json(part.tool_call),
                        }
                    )
        return items

    def build_body(self, request: Request) -> dict[str, Any]:
        body: dict[str, Any] = {"model": request.model, "input": self._input(request)}
        instructions = "\n\n".join(m.text for m in request.messages if m.role == Role.SYSTEM and m.text)
        if instructions:
            body["instructions"] = instructions
        if request.tools:
            body["tools"] = [
                {"type": "function", "name": t.name, "description": t.description, "parameters": t.parameters}
                for t in request.tools
            ]
        if request.tool_choice is not None:
            choice = request.tool_choice
            body["tool_choice"] = (
                {"type": "function", "name": choice.tool_name} if choice.mode == "named" else choice.mode
            )
        fmt = request.response_format
        if fmt is not None and fmt.type == "json_schema":
            body["text"] = {
                "format": {
                    "type": "json_schema",
                    "name": fmt.name,
                    "schema": fmt.json_schema,
                    "strict": fmt.strict,
                }
            }
        elif fmt is not None and fmt.type == "json":
            body["text"] = {"format": {"type": "json_object"}}
        for ours, theirs in (
            ("temperature", "temperature"),
            ("top_p", "top_p"),
            ("max_tokens", "max_output_tokens"),
            ("metadata", "metadata"),
        ):
            if (value := getattr(request, ours)) is not None:
                body[theirs] = value
        if request.reasoning_effort:
            body["reasoning"] = {"effort": request.reasoning_effort}
        merge_options(body, request.options_for(self.name))
        return body

    # -- response translation -----------------------------------------------------------------------

    def parse_response(
        self, payload: dict[str, Any], headers: httpx.Headers | None, request: Request
    ) -> Response:
        parts: list[ContentPart] = []
        has_calls = False
        for item in payload.get("output") or []:
            kind = item.get("type")
            if kind == "message":
                for c in item.get("content") or []:
                    if c.get("type") == "output_text":
                        parts.append(text_part(c.get("text", "")))
                    elif c.get("type") == "refusal":
                        parts.append(text_part(c.get("refusal", "")))
            elif kind == "function_call":
                has_calls = True
                parts.append(
                    ContentPart(
                        kind=ContentKind.TOOL_CALL,
                        tool_call=ToolCallData(
                            id=item.get("call_id") or item.get("id", ""),
                            name=item.get("name", ""),
                            arguments=item.get("arguments") or "{}",
                        ),
                    )
                )
            elif kind == "reasoning":
                summary = "".join(s.get("text", "") for s in item.get("summary") or [])
                summary += "".join(c.get("text", "") for c in item.get("content") or [])
                if summary:
                    parts.append(
                        ContentPart(
                            kind=ContentKind.THINKING, thinking=ThinkingData(text=summary, provider=self.name)
                        )
                    )
        status = payload.get("status") or "completed"
        incomplete = (payload.get("incomplete_details") or {}).get("reason")
        if status == "incomplete":
            reason = {"max_output_tokens": "length", "content_filter": "content_filter"}.get(
                incomplete or "", "other"
            )
            finish = FinishReason(reason=reason, raw=incomplete or status)
        elif status == "failed":
            finish = FinishReason(reason="error", raw=status)
        else:
            finish = FinishReason(reason="tool_calls" if has_calls else "stop", raw=status)
        usage = payload.get("usage") or {}
        inp, out = int(usage.get("input_tokens") or 0), int(usage.get("output_tokens") or 0)
        warnings = (
            [
                Warning(
                    message="stop_sequences are not supported by the Responses API; ignored",
                    code="unsupported_parameter",
                )
            ]
            if request.stop_sequences
            else []
        )
        return Response(
            id=payload.get("id", ""),
            model=payload.get("model") or request.model,
            provider=self.name,
            message=Message(role=Role.ASSISTANT, content=parts),
            finish_reason=finish,
            usage=Usage(
                input_tokens=inp,
                output_tokens=out,
                total_tokens=int(usage.get("total_tokens") or inp + out),
                reasoning_tokens=(usage.get("output_tokens_details") or {}).get("reasoning_tokens"),
                cache_read_tokens=(usage.get("input_tokens_details") or {}).get("cached_tokens"),
                raw=usage or None,
            ),
            raw=payload,
            warnings=warnings,
            rate_limit=parse_rate_limit(headers) if headers else None,
        )

    def complete(self, request: Request, options: CallOptions) -> Response:
        payload, headers = self.http.post_json("responses", self.build_body(request), options)
        return self.parse_response(payload, headers, request)

    def stream(self, request: Request, options: CallOptions) -> Iterator[StreamEvent]:
        body = {**self.build_body(request), "stream": True}
        with self.http.open_stream("responses", body, options) as response:
            calls: dict[str, ToolCall] = {}  # item id -> call being built
            open_text: set[str] = set()
            reasoning_open = False
            for sse in self.http.iter_sse(response, options):
                data = decode_event(self.name, sse)
                kind = data.get("type") or sse.event
                if kind == "response.created":
                    yield event(StreamEventType.STREAM_START, raw=data)
                elif kind == "response.output_item.added":
                    item = data.get("item") or {}
                    if item.get("type") == "function_call":
                        call = ToolCall(
                            id=item.get("call_id") or item.get("id", ""),
                            name=item.get("name", ""),
                            raw_arguments="",
                        )
                        calls[item.get("id", "")] = call
                        yield event(StreamEventType.TOOL_CALL_START, tool_call=call)
                elif kind == "response.output_text.delta":
                    item_id = data.get("item_id", "")
                    if item_id not in open_text:
                        open_text.add(item_id)
                        yield event(StreamEventType.TEXT_START, text_id=item_id)
                    yield event(StreamEventType.TEXT_DELTA, delta=data.get("delta", ""), text_id=item_id)
                elif kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
                    if not reasoning_open:
                        reasoning_open = True
                        yield event(StreamEventType.REASONING_START)
                    yield event(StreamEventType.REASONING_DELTA, reasoning_delta=data.get("delta", ""))
                elif kind == "response.function_call_arguments.delta":
                    call = calls.get(data.get("item_id", ""))
                    if call is not None:
                        call.raw_arguments = (call.raw_arguments or "") + data.get("delta", "")
                        yield event(
                            StreamEventType.TOOL_CALL_DELTA,
                            delta=data.get("delta", ""),
                            tool_call=call.model_copy(),
                        )
                elif kind == "response.output_item.done":
                    item = data.get("item") or {}
                    if item.get("type") == "message" and item.get("id", "") in open_text:
                        yield event(StreamEventType.TEXT_END, text_id=item.get("id"))
                    elif item.get("type") == "function_call":
                        done = ToolCall.from_data(
                            ToolCallData(
                                id=item.get("call_id") or item.get("id", ""),
                                name=item.get("name", ""),
                                arguments=item.get("arguments") or "{}",
                            )
                        )
                        yield event(StreamEventType.TOOL_CALL_END, tool_call=done)
                    elif item.get("type") == "reasoning" and reasoning_open:
                        reasoning_open = False
                        yield event(StreamEventType.REASONING_END)
                elif kind in ("response.completed", "response.incomplete"):
                    final = self.parse_response(data.get("response") or {}, response.headers, request)
                    yield event(
                        StreamEventType.FINISH,
                        finish_reason=final.finish_reason,
                        usage=final.usage,
                        response=final,
                    )
                    return
                elif kind in ("response.failed", "error"):
                    err = (data.get("response") or {}).get("error") or data.get("error") or data
                    raise error_from_status(
                        provider=self.name,
                        status=None,
                        message=str(err.get("message", "stream failed")),
                        error_code=err.get("code"),
                        raw=data,
                    )
                else:
                    yield event(StreamEventType.PROVIDER_EVENT, raw=data)
            raise StreamError(f"{self.name}: stream ended before response.completed")
