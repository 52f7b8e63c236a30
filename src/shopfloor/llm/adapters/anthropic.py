"""Anthropic through its native Messages API (`POST /v1/messages`), JSON and SSE.

Prompt caching heuristic (automatic unless `provider_options.anthropic.auto_cache`
is false): an ephemeral `cache_control` breakpoint goes on the last system block,
on the last tool definition, and on the last content block of each of the last
two user turns — the stable prefix of an agentic conversation grows by one turn
at a time, so the next call reads everything up to the previous breakpoint from
the cache. That is at most four breakpoints, Anthropic's limit. Whenever a
breakpoint is present the `prompt-caching-2024-07-31` beta header is sent.

Structured output has no native mode here: a `json_schema` response format
becomes a forced tool whose input schema is the wanted schema, and the tool's
input comes back as the response text.
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
    text_part,
    tool_call_arguments,
    tool_result_text,
)
from shopfloor.llm.errors import InvalidRequestError, StreamError, error_from_status
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

DEFAULT_ANTHROPIC_BASE_URL = "https://api.anthropic.com"
ANTHROPIC_VERSION = "2023-06-01"
# Anthropic requires max_tokens; the spec's default when the caller sets none.
DEFAULT_ANTHROPIC_MAX_TOKENS = 4096
PROMPT_CACHING_BETA = "prompt-caching-2024-07-31"
STRUCTURED_OUTPUT_TOOL = "structured_output"
# Anthropic allows four cache breakpoints per request; two go to user turns.
CACHED_USER_TURNS = 2
# Anthropic reports no reasoning-token count; thinking text is estimated at this many chars per token.
THINKING_CHARS_PER_TOKEN = 4

_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
    "pause_turn": "other",
}
_ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
}
_EPHEMERAL = {"type": "ephemeral"}


class AnthropicAdapter(HttpAdapter):
    def __init__(
        self,
        api_key: str,
        base_url: str | None = None,
        *,
        default_headers: dict[str, str] | None = None,
        timeout: AdapterTimeout | None = None,
        http_client: httpx.Client | None = None,
        name: str = "anthropic",
    ) -> None:
        headers = {"x-api-key": api_key, "anthropic-version": ANTHROPIC_VERSION, **(default_headers or {})}
        base = (base_url or DEFAULT_ANTHROPIC_BASE_URL).rstrip("/")
        self._path = "messages" if base.endswith("/v1") else "v1/messages"
        super().__init__(name, base, headers, timeout, http_client)

    # -- request translation ------------------------------------------------------------------------

    def _source(self, url: str | None, data: bytes | None, media_type: str | None) -> dict[str, Any]:
        inline = inline_payload(url, data, media_type, self.name)
        if inline:
            return {"type": "base64", "media_type": inline[0], "data": inline[1]}
        return {"type": "url", "url": url}

    def _block(self, part: ContentPart) -> dict[str, Any] | None:
        if part.kind == ContentKind.TEXT:
            return {"type": "text", "text": part.text} if part.text else None
        if part.kind == ContentKind.IMAGE and part.image is not None:
            return {
                "type": "image",
                "source": self._source(part.image.url, part.image.data, part.image.media_type),
            }
        if part.kind == ContentKind.DOCUMENT and part.document is not None:
            doc = part.document
            return {
                "type": "document",
                "source": self._source(doc.url, doc.data, doc.media_type or "application/pdf"),
            }
        if part.kind == ContentKind.AUDIO:
            raise InvalidRequestError(
                "audio input is not supported by the Anthropic Messages API", provider=self.name
            )
        if part.kind == ContentKind.TOOL_CALL and part.tool_call is not None:
            return {
                "type": "tool_use",
                "id": part.tool_call.id,
                "name": part.tool_call.name,
                "input": tool_call_arguments(part.tool_call),
            }
        if part.kind == ContentKind.TOOL_RESULT and part.tool_result is not None:
            result = part.tool_result
            content: str | list[dict[str, Any]] = tool_result_text(result.content)
            if result.image_data is not None:
                content = [
                    {"type": "text", "text": content},
                    {
                        "type": "image",
                        "source": self._source(None, result.image_data, result.image_media_type),
                    },
                ]
            return {
                "type": "tool_result",
                "tool_use_id": result.tool_call_id,
                "content": content,
                "is_error": result.is_error,
            }
        if (
            part.kind in (ContentKind.THINKING, ContentKind.REDACTED_THINKING)
            and part.thinking is not None
            and not self._owns(part.thinking)
        ):
            return None  # another provider's reasoning: its signature means nothing here
        if part.kind == ContentKind.THINKING and part.thinking is not None:
            block = {"type": "thinking", "thinking": part.thinking.text}
            if part.thinking.signature is not None:
                block["signature"] = part.thinking.signature
            return block
        if part.kind == ContentKind.REDACTED_THINKING and part.thinking is not None:
            return {"type": "redacted_thinking", "data": part.thinking.text}
        return None

    def _owns(self, thinking: ThinkingData) -> bool:
        if thinking.provider is not None:
            return thinking.provider == self.name
        return thinking.redacted or thinking.signature is not None  # built by hand: trust a signature

    def _messages(self, request: Request) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for message in request.messages:
            if message.role in (Role.SYSTEM, Role.DEVELOPER):
                continue
            role = "assistant" if message.role == Role.ASSISTANT else "user"
            blocks = [b for b in (self._block(p) for p in message.content) if b is not None]
            if not blocks:
                continue
            if out and out[-1]["role"] == role:  # strict alternation: merge same-role neighbours
                out[-1]["content"].extend(blocks)
            else:
                out.append({"role": role, "content": blocks})
        return out

    def build(self, request: Request) -> tuple[dict[str, Any], dict[str, str]]:
        """The JSON body and the extra headers (anthropic-beta) for a request."""
        options = request.options_for(self.name)
        body: dict[str, Any] = {
            "model": request.model,
            "messages": self._messages(request),
            "max_tokens": request.max_tokens or DEFAULT_ANTHROPIC_MAX_TOKENS,
        }
        system = [
            {"type": "text", "text": m.text}
            for m in request.messages
            if m.role in (Role.SYSTEM, Role.DEVELOPER) and m.text
        ]
        if system:
            body["system"] = system
        tools = [
            {"name": t.name, "description": t.description, "input_schema": t.parameters}
            for t in request.tools or []
        ]
        choice = request.tool_choice
        fmt = request.response_format
        if fmt is not None and fmt.type == "json_schema" and fmt.json_schema is not None:
            tools.append(
                {
                    "name": STRUCTURED_OUTPUT_TOOL,
                    "description": "Give the final answer as this object.",
                    "input_schema": fmt.json_schema,
                }
            )
            body["tool_choice"] = {"type": "tool", "name": STRUCTURED_OUTPUT_TOOL}
        elif fmt is not None and fmt.type == "json":
            body.setdefault("system", []).append({"type": "text", "text": "Reply with one JSON object only."})
        if choice is not None and choice.mode == "none":
            tools = []  # Anthropic cannot say "none" with tools present: leave them out
        elif choice is not None and "tool_choice" not in body:
            body["tool_choice"] = {
                "auto": {"type": "auto"},
                "required": {"type": "any"},
                "named": {"type": "tool", "name": choice.tool_name},
            }[choice.mode]
        if tools:
            body["tools"] = tools
        for ours, theirs in (
            ("temperature", "temperature"),
            ("top_p", "top_p"),
            ("stop_sequences", "stop_sequences"),
        ):
            if (value := getattr(request, ours)) is not None:
                body[theirs] = value
        if request.metadata and "user_id" in request.metadata:
            body["metadata"] = {"user_id": request.metadata["user_id"]}
        if request.reasoning_effort and "thinking" not in options:
            budget = {"low": 2048, "medium": 8192, "high": 24576}.get(request.reasoning_effort)
            if budget:
                body["thinking"] = {"type": "enabled", "budget_tokens": budget}
                body["max_tokens"] = max(body["max_tokens"], budget + 1024)
        cached = bool(options.get("auto_cache", True)) and self._place_cache_breakpoints(body)
        merge_options(body, options, skip=("beta_headers", "auto_cache"))
        cached = cached or "cache_control" in json.dumps(
            {k: v for k, v in options.items() if k != "beta_headers"}
        )
        betas = [str(b) for b in options.get("beta_headers") or []]
        if cached and PROMPT_CACHING_BETA not in betas:
            betas.append(PROMPT_CACHING_BETA)
        return body, ({"anthropic-beta": ",".join(dict.fromkeys(betas))} if betas else {})

    @staticmethod
    def _place_cache_breakpoints(body: dict[str, Any]) -> bool:
        """Mark the stable prefix (see the module docstring); whether any breakpoint was placed."""
        if body.get("system"):
            body["system"][-1]["cache_control"] = _EPHEMERAL
        if body.get("tools"):
            body["tools"][-1]["cache_control"] = _EPHEMERAL
        marked = 0
        for message in reversed(body["messages"]):
            if marked == CACHED_USER_TURNS:
                break
            if message["role"] != "user":
                continue
            cacheable = [b for b in message["content"] if b["type"] not in ("thinking", "redacted_thinking")]
            if cacheable:
                cacheable[-1]["cache_control"] = _EPHEMERAL
                marked += 1
        return bool(body.get("system") or body.get("tools") or marked)

    # -- response translation -----------------------------------------------------------------------

    @staticmethod
    def _is_structured(block: dict[str, Any], request: Request) -> bool:
        """Whether a tool_use block is the forced structured-output tool (streamed as text)."""
        fmt = request.response_format
        return (
            fmt is not None
            and fmt.type == "json_schema"
            and block.get("type") == "tool_use"
            and block.get("name") == STRUCTURED_OUTPUT_TOOL
        )

    def parse_response(
        self, payload: dict[str, Any], headers: httpx.Headers | None, request: Request
    ) -> Response:
        structured = request.response_format is not None and request.response_format.type == "json_schema"
        parts: list[ContentPart] = []
        thinking_chars = 0
        for block in payload.get("content") or []:
            kind = block.get("type")
            if kind == "text":
                parts.append(text_part(block.get("text", "")))
            elif kind == "tool_use" and structured and block.get("name") == STRUCTURED_OUTPUT_TOOL:
                parts.append(text_part(json.dumps(block.get("input") or {})))
            elif kind == "tool_use":
                parts.append(
                    ContentPart(
                        kind=ContentKind.TOOL_CALL,
                        tool_call=ToolCallData(
                            id=block.get("id", ""),
                            name=block.get("name", ""),
                            arguments=block.get("input") or {},
                        ),
                    )
                )
            elif kind == "thinking":
                thinking_chars += len(block.get("thinking", ""))
                parts.append(
                    ContentPart(
                        kind=ContentKind.THINKING,
                        thinking=ThinkingData(
                            text=block.get("thinking", ""),
                            signature=block.get("signature"),
                            provider=self.name,
                        ),
                    )
                )
            elif kind == "redacted_thinking":
                parts.append(
                    ContentPart(
                        kind=ContentKind.REDACTED_THINKING,
                        thinking=ThinkingData(text=block.get("data", ""), redacted=True, provider=self.name),
                    )
                )
        raw_reason = payload.get("stop_reason") or "end_turn"
        reason = _FINISH.get(raw_reason, "other")
        if structured and reason == "tool_calls" and not any(p.kind == ContentKind.TOOL_CALL for p in parts):
            reason = "stop"
        usage = payload.get("usage") or {}
        read = usage.get("cache_read_input_tokens")
        written = usage.get("cache_creation_input_tokens")
        # Normalised so that input_tokens counts the whole prompt, as OpenAI and Gemini do.
        inp = int(usage.get("input_tokens") or 0) + int(read or 0) + int(written or 0)
        out = int(usage.get("output_tokens") or 0)
        return Response(
            id=payload.get("id", ""),
            model=payload.get("model") or request.model,
            provider=self.name,
            message=Message(role=Role.ASSISTANT, content=parts),
            finish_reason=FinishReason(reason=reason, raw=raw_reason),
            usage=Usage(
                input_tokens=inp,
                output_tokens=out,
                total_tokens=inp + out,
                reasoning_tokens=(thinking_chars // THINKING_CHARS_PER_TOKEN) if thinking_chars else None,
                cache_read_tokens=read,
                cache_write_tokens=written,
                raw=usage or None,
            ),
            raw=payload,
            rate_limit=parse_rate_limit(headers) if headers else None,
        )

    def complete(self, request: Request, options: CallOptions) -> Response:
        body, headers = self.build(request)
        payload, response_headers = self.http.post_json(self._path, body, options, headers=headers)
        return self.parse_response(payload, response_headers, request)

    def stream(self, request: Request, options: CallOptions) -> Iterator[StreamEvent]:
        body, headers = self.build(request)
        body["stream"] = True
        with self.http.open_stream(self._path, body, options, headers=headers) as response:
            message: dict[str, Any] = {}
            blocks: dict[int, dict[str, Any]] = {}
            partial_json: dict[int, str] = {}
            pieces: dict[int, list[str]] = {}  # text/thinking deltas per block, joined when the block stops
            for sse in self.http.iter_sse(response, options):
                data = decode_event(self.name, sse)
                kind = data.get("type") or sse.event
                if kind == "message_start":
                    message = dict(data.get("message") or {})
                    yield event(StreamEventType.STREAM_START, raw=data)
                elif kind == "content_block_start":
                    index, block = int(data.get("index", 0)), dict(data.get("content_block") or {})
                    blocks[index] = block
                    if block.get("type") == "text" or self._is_structured(block, request):
                        partial_json[index] = ""
                        yield event(StreamEventType.TEXT_START, text_id=str(index))
                    elif block.get("type") == "tool_use":
                        partial_json[index] = ""
                        yield event(
                            StreamEventType.TOOL_CALL_START,
                            tool_call=ToolCall(
                                id=block.get("id", ""), name=block.get("name", ""), raw_arguments=""
                            ),
                        )
                    elif block.get("type") in ("thinking", "redacted_thinking"):
                        yield event(StreamEventType.REASONING_START)
                elif kind == "content_block_delta":
                    index, delta = int(data.get("index", 0)), data.get("delta") or {}
                    block = blocks.setdefault(index, {"type": "text", "text": ""})
                    dtype = delta.get("type")
                    if dtype == "text_delta":
                        pieces.setdefault(index, []).append(delta.get("text", ""))
                        yield event(
                            StreamEventType.TEXT_DELTA, delta=delta.get("text", ""), text_id=str(index)
                        )
                    elif dtype == "input_json_delta" and self._is_structured(block, request):
                        partial_json[index] = partial_json.get(index, "") + delta.get("partial_json", "")
                        yield event(
                            StreamEventType.TEXT_DELTA,
                            delta=delta.get("partial_json", ""),
                            text_id=str(index),
                        )
                    elif dtype == "input_json_delta":
                        partial_json[index] = partial_json.get(index, "") + delta.get("partial_json", "")
                        yield event(
                            StreamEventType.TOOL_CALL_DELTA,
                            delta=delta.get("partial_json", ""),
                            tool_call=ToolCall(
                                id=block.get("id", ""),
                                name=block.get("name", ""),
                                raw_arguments=partial_json[index],
                            ),
                        )
                    elif dtype == "thinking_delta":
                        pieces.setdefault(index, []).append(delta.get("thinking", ""))
                        yield event(
                            StreamEventType.REASONING_DELTA, reasoning_delta=delta.get("thinking", "")
                        )
                    elif dtype == "signature_delta":
                        block["signature"] = block.get("signature", "") + delta.get("signature", "")
                elif kind == "content_block_stop":
                    index = int(data.get("index", 0))
                    block = blocks.get(index, {})
                    if index in pieces and block.get("type") in ("text", "thinking"):
                        block[block["type"]] = block.get(block["type"], "") + "".join(pieces.pop(index))
                    if block.get("type") == "tool_use":
                        raw = partial_json.get(index, "")
                        try:
                            block["input"] = json.loads(raw) if raw.strip() else {}
                        except ValueError:
                            block["input"] = {}
                    if block.get("type") == "text" or self._is_structured(block, request):
                        yield event(StreamEventType.TEXT_END, text_id=str(index))
                    elif block.get("type") == "tool_use":
                        yield event(
                            StreamEventType.TOOL_CALL_END,
                            tool_call=ToolCall.from_data(
                                ToolCallData(
                                    id=block.get("id", ""), name=block.get("name", ""), arguments=raw or "{}"
                                )
                            ),
                        )
                    elif block.get("type") in ("thinking", "redacted_thinking"):
                        yield event(StreamEventType.REASONING_END)
                elif kind == "message_delta":
                    message.update({k: v for k, v in (data.get("delta") or {}).items() if v is not None})
                    message["usage"] = {
                        **(message.get("usage") or {}),
                        **{k: v for k, v in (data.get("usage") or {}).items() if v is not None},
                    }
                elif kind == "message_stop":
                    message["content"] = [blocks[i] for i in sorted(blocks)]
                    final = self.parse_response(message, response.headers, request)
                    yield event(
                        StreamEventType.FINISH,
                        finish_reason=final.finish_reason,
                        usage=final.usage,
                        response=final,
                    )
                    return
                elif kind == "error":
                    err = data.get("error") or {}
                    etype = str(err.get("type", "api_error"))
                    raise error_from_status(
                        provider=self.name,
                        status=_ERROR_STATUS.get(etype, 500),
                        message=str(err.get("message", etype)),
                        error_code=etype,
                        raw=data,
                    )
                elif kind != "ping":
                    yield event(StreamEventType.PROVIDER_EVENT, raw=data)
            raise StreamError(f"{self.name}: stream ended before message_stop")
