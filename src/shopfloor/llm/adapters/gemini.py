"""Gemini through its native API: `models/{model}:generateContent` and
`:streamGenerateContent?alt=sse`, authenticated with the `key` query parameter
(and the `x-goog-api-key` header).

Gemini assigns no ids to function calls: the adapter makes synthetic ones
(`call_<hex>`) and finds the function name again from the history when a tool
result goes back (functionResponse is keyed by name). `output_tokens` counts
candidates plus thoughts (both are billed as output); `reasoning_tokens` is
`thoughtsTokenCount`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx

from shopfloor.llm.adapters.base import HttpAdapter
from shopfloor.llm.adapters.common import (
    event,
    merge_options,
    synthetic_call_id,
    system_text,
    text_part,
    tool_call_arguments,
    tool_names_by_call_id,
)
from shopfloor.llm.errors import ContentFilterError, StreamError
from shopfloor.llm.http import CallOptions, decode_event, parse_rate_limit
from shopfloor.llm.media import inline_payload
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
)

DEFAULT_GEMINI_BASE_URL = "https://generativelanguage.googleapis.com"
_FINISH = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
}
# reasoning_effort -> thinkingLevel (Gemini 3) or thinkingBudget tokens (Gemini 2.5).
_THINKING_BUDGET = {"low": 1024, "medium": 8192, "high": 24576}
# JSON Schema keywords the responseSchema (OpenAPI subset) rejects.
_UNSUPPORTED_SCHEMA_KEYS = ("additionalProperties", "$schema", "$id", "$defs", "definitions", "strict")


def _gemini_schema(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _gemini_schema(v) for k, v in schema.items() if k not in _UNSUPPORTED_SCHEMA_KEYS}
    if isinstance(schema, list):
        return [_gemini_schema(v) for v in schema]
    return schema


class GeminiAdapter(HttpAdapter):
    def __init__(
        self,
        api_key: str,
        base_url: str | None = None,
        *,
        default_headers: dict[str, str] | None = None,
        timeout: AdapterTimeout | None = None,
        http_client: httpx.Client | None = None,
        name: str = "gemini",
    ) -> None:
        self._key = api_key
        base = (base_url or DEFAULT_GEMINI_BASE_URL).rstrip("/")
        self._prefix = "models" if base.endswith(("/v1beta", "/v1", "/v1alpha")) else "v1beta/models"
        # The spec's `key` query parameter, plus the header Google's own SDKs send: servers accept either.
        headers = {"x-goog-api-key": api_key, **(default_headers or {})}
        super().__init__(name, base, headers, timeout, http_client)

    # -- request translation ------------------------------------------------------------------------

    def _media(self, url: str | None, data: bytes | None, media_type: str | None) -> dict[str, Any]:
        inline = inline_payload(url, data, media_type, self.name)
        if inline:
            return {"inlineData": {"mimeType": inline[0], "data": inline[1]}}
        return {"fileData": {"mimeType": media_type or "image/png", "fileUri": url}}

    def _parts(self, message: Message, names: dict[str, str]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for part in message.content:
            if part.kind == ContentKind.TEXT and part.text:
                out.append({"text": part.text})
            elif part.kind == ContentKind.IMAGE and part.image is not None:
                out.append(self._media(part.image.url, part.image.data, part.image.media_type))
            elif part.kind == ContentKind.AUDIO and part.audio is not None:
                out.append(self._media(part.audio.url, part.audio.data, part.audio.media_type or "audio/wav"))
            elif part.kind == ContentKind.DOCUMENT and part.document is not None:
                doc = part.document
                out.append(self._media(doc.url, doc.data, doc.media_type or "application/pdf"))
            elif part.kind == ContentKind.TOOL_CALL and part.tool_call is not None:
                call: dict[str, Any] = {
                    "functionCall": {"name": part.tool_call.name, "args": tool_call_arguments(part.tool_call)}
                }
                if part.tool_call.signature:
                    call["thoughtSignature"] = part.tool_call.signature
                out.append(call)
            elif part.kind == ContentKind.TOOL_RESULT and part.tool_result is not None:
                result = part.tool_result
                content = result.content
                payload = (
                    content
                    if isinstance(content, dict)
                    else {"error" if result.is_error else "result": content}
                )
                name = names.get(result.tool_call_id) or message.name or result.tool_call_id
                out.append({"functionResponse": {"name": name, "response": payload}})
            elif (
                part.kind == ContentKind.THINKING
                and part.thinking is not None
                and part.thinking.text
                and part.thinking.provider in (None, self.name)
            ):
                thought: dict[str, Any] = {"text": part.thinking.text, "thought": True}
                if part.thinking.signature:
                    thought["thoughtSignature"] = part.thinking.signature
                out.append(thought)
        return out

    def build_body(self, request: Request) -> dict[str, Any]:
        names = tool_names_by_call_id(request.messages)
        contents: list[dict[str, Any]] = []
        for message in request.messages:
            if message.role in (Role.SYSTEM, Role.DEVELOPER):
                continue
            role = "model" if message.role == Role.ASSISTANT else "user"
            parts = self._parts(message, names)
            if not parts:
                continue
            if contents and contents[-1]["role"] == role:  # parallel tool results travel in one turn
                contents[-1]["parts"].extend(parts)
            else:
                contents.append({"role": role, "parts": parts})
        body: dict[str, Any] = {"contents": contents}
        if system := system_text(request):
            body["systemInstruction"] = {"parts": [{"text": system}]}
        if request.tools:
            body["tools"] = [
                {
                    "functionDeclarations": [
                        {
                            "name": t.name,
                            "description": t.description,
                            "parameters": _gemini_schema(t.parameters),
                        }
                        for t in request.tools
                    ]
                }
            ]
        if request.tool_choice is not None:
            choice = request.tool_choice
            config: dict[str, Any] = {
                "mode": {"auto": "AUTO", "none": "NONE", "required": "ANY", "named": "ANY"}[choice.mode]
            }
            if choice.mode == "named":
                config["allowedFunctionNames"] = [choice.tool_name]
            body["toolConfig"] = {"functionCallingConfig": config}
        generation: dict[str, Any] = {}
        for ours, theirs in (
            ("temperature", "temperature"),
            ("top_p", "topP"),
            ("max_tokens", "maxOutputTokens"),
            ("stop_sequences", "stopSequences"),
        ):
            if (value := getattr(request, ours)) is not None:
                generation[theirs] = value
        fmt = request.response_format
        if fmt is not None and fmt.type in ("json", "json_schema"):
            generation["responseMimeType"] = "application/json"
            if fmt.json_schema is not None:
                generation["responseSchema"] = _gemini_schema(fmt.json_schema)
        if request.reasoning_effort in _THINKING_BUDGET:
            generation["thinkingConfig"] = (
                {"thinkingLevel": request.reasoning_effort}
                if request.model.startswith("gemini-3")
                else {"thinkingBudget": _THINKING_BUDGET[request.reasoning_effort]}
            )
        if generation:
            body["generationConfig"] = generation
        merge_options(body, request.options_for(self.name))
        return body

    def _chunks(self, response: httpx.Response, options: CallOptions) -> Iterator[dict[str, Any]]:
        """Response chunks from SSE (`alt=sse`) or, from servers that ignore it, one JSON array."""
        if "event-stream" not in response.headers.get("content-type", "event-stream"):
            try:
                body = response.read()
            except httpx.HTTPError as exc:
                raise StreamError(f"{self.name}: stream broke off: {exc}", cause=exc) from exc
            yield from _json_array_chunks(self.name, body)
            return
        for sse in self.http.iter_sse(response, options):
            yield decode_event(self.name, sse)

    # -- response translation -----------------------------------------------------------------------

    def parse_response(
        self, payload: dict[str, Any], headers: httpx.Headers | None, request: Request
    ) -> Response:
        candidates = payload.get("candidates") or []
        if not candidates and (payload.get("promptFeedback") or {}).get("blockReason"):
            reason = payload["promptFeedback"]["blockReason"]
            raise ContentFilterError(
                f"prompt blocked: {reason}", provider=self.name, error_code=reason, raw=payload
            )
        candidate = candidates[0] if candidates else {}
        parts: list[ContentPart] = []
        for p in (candidate.get("content") or {}).get("parts") or []:
            if "functionCall" in p:
                fc = p["functionCall"]
                parts.append(
                    ContentPart(
                        kind=ContentKind.TOOL_CALL,
                        tool_call=ToolCallData(
                            id=fc.get("id") or synthetic_call_id(),
                            name=fc.get("name", ""),
                            arguments=fc.get("args") or {},
                            signature=p.get("thoughtSignature"),
                        ),
                    )
                )
            elif p.get("thought") and "text" in p:
                parts.append(
                    ContentPart(
                        kind=ContentKind.THINKING,
                        thinking=ThinkingData(
                            text=p["text"], signature=p.get("thoughtSignature"), provider=self.name
                        ),
                    )
                )
            elif "text" in p:
                parts.append(text_part(p["text"]))
        raw_reason = candidate.get("finishReason") or "STOP"
        has_calls = any(p.kind == ContentKind.TOOL_CALL for p in parts)
        reason = "tool_calls" if has_calls else _FINISH.get(raw_reason, "other")
        meta = payload.get("usageMetadata") or {}
        thoughts = meta.get("thoughtsTokenCount")
        inp = int(meta.get("promptTokenCount") or 0)
        out = int(meta.get("candidatesTokenCount") or 0) + int(thoughts or 0)
        return Response(
            id=payload.get("responseId", ""),
            model=payload.get("modelVersion") or request.model,
            provider=self.name,
            message=Message(role=Role.ASSISTANT, content=parts),
            finish_reason=FinishReason(reason=reason, raw=raw_reason),
            usage=Usage(
                input_tokens=inp,
                output_tokens=out,
                total_tokens=int(meta.get("totalTokenCount") or inp + out),
                reasoning_tokens=thoughts,
                cache_read_tokens=meta.get("cachedContentTokenCount"),
                raw=meta or None,
            ),
            raw=payload,
            rate_limit=parse_rate_limit(headers) if headers else None,
        )

    def complete(self, request: Request, options: CallOptions) -> Response:
        payload, headers = self.http.post_json(
            f"{self._prefix}/{request.model}:generateContent",
            self.build_body(request),
            options,
            params={"key": self._key},
        )
        return self.parse_response(payload, headers, request)

    def stream(self, request: Request, options: CallOptions) -> Iterator[StreamEvent]:
        path = f"{self._prefix}/{request.model}:streamGenerateContent"
        with self.http.open_stream(
            path, self.build_body(request), options, params={"alt": "sse", "key": self._key}
        ) as response:
            parts: list[dict[str, Any]] = []
            last: dict[str, Any] = {}
            finish: str | None = None
            text_open = reasoning_open = False
            for chunk in self._chunks(response, options):
                if not last:
                    yield event(StreamEventType.STREAM_START, raw=chunk)
                last = chunk
                candidate = (chunk.get("candidates") or [{}])[0]
                for p in (candidate.get("content") or {}).get("parts") or []:
                    if "functionCall" in p:
                        p = {**p, "functionCall": {"id": synthetic_call_id(), **p["functionCall"]}}
                        fc = p["functionCall"]
                        call = ToolCall.from_data(
                            ToolCallData(
                                id=fc["id"],
                                name=fc.get("name", ""),
                                arguments=fc.get("args") or {},
                                signature=p.get("thoughtSignature"),
                            )
                        )
                        yield event(StreamEventType.TOOL_CALL_START, tool_call=call)
                        yield event(StreamEventType.TOOL_CALL_END, tool_call=call)
                    elif p.get("thought") and "text" in p:
                        if not reasoning_open:
                            reasoning_open = True
                            yield event(StreamEventType.REASONING_START)
                        yield event(StreamEventType.REASONING_DELTA, reasoning_delta=p["text"])
                    elif "text" in p:
                        if reasoning_open:
                            reasoning_open = False
                            yield event(StreamEventType.REASONING_END)
                        if not text_open:
                            text_open = True
                            yield event(StreamEventType.TEXT_START, text_id="0")
                        yield event(StreamEventType.TEXT_DELTA, delta=p["text"], text_id="0")
                    _append_part(parts, p)
                if candidate.get("finishReason"):
                    finish = candidate["finishReason"]
                    if reasoning_open:
                        reasoning_open = False
                        yield event(StreamEventType.REASONING_END)
                    if text_open:
                        text_open = False
                        yield event(StreamEventType.TEXT_END, text_id="0")
            if not last or finish is None:
                raise StreamError(f"{self.name}: stream ended without a finishReason")
            whole = {
                **last,
                "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": finish}],
            }
            final = self.parse_response(whole, response.headers, request)
            yield event(
                StreamEventType.FINISH, finish_reason=final.finish_reason, usage=final.usage, response=final
            )


def _json_array_chunks(provider: str, body: bytes) -> Iterator[dict[str, Any]]:
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise StreamError(f"{provider}: stream body is not JSON: {body[:120]!r}", cause=exc) from exc
    for chunk in data if isinstance(data, list) else [data]:
        if not isinstance(chunk, dict):
            raise StreamError(f"{provider}: stream chunk is not a JSON object: {chunk!r:.120}")
        yield chunk


def _append_part(parts: list[dict[str, Any]], part: dict[str, Any]) -> None:
    """Accumulate streamed parts, joining consecutive text (or thought) chunks into one part."""
    if (
        parts
        and "text" in part
        and "text" in parts[-1]
        and bool(part.get("thought")) == bool(parts[-1].get("thought"))
        and "thoughtSignature" not in part
    ):
        parts[-1] = {**parts[-1], "text": parts[-1]["text"] + part["text"]}
    else:
        parts.append(dict(part))
