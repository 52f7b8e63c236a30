"""OpenAI-compatible Chat Completions (`POST {base}/chat/completions`) for local and third-party
servers: Ollama, vLLM, the llama.cpp server, LM Studio, OpenRouter (spec 7.10).

`COMPAT_SERVERS` names each with its usual base URL; `provider_name_for_url`
recognises them from a base URL so that the provider name in traces and costs
says which server answered.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import httpx

from shopfloor.llm.adapters.base import ALL_TOOL_CHOICE_MODES, HttpAdapter
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
)

# provider name -> default base URL
COMPAT_SERVERS: dict[str, str] = {
    "ollama": "http://localhost:11434/v1",
    "vllm": "http://localhost:8000/v1",
    "llamacpp": "http://localhost:8080/v1",
    "lmstudio": "http://localhost:1234/v1",
    "openrouter": "https://openrouter.ai/api/v1",
}
GENERIC_COMPAT_PROVIDER = "openai_compat"
_FINISH = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}


def provider_name_for_url(base_url: str) -> str:
    """Which known server a base URL points at (by host, then by default port), else openai_compat."""
    parsed = urlparse(base_url)
    if parsed.hostname and "openrouter.ai" in parsed.hostname:
        return "openrouter"
    for name, default in COMPAT_SERVERS.items():
        if parsed.port is not None and parsed.port == urlparse(default).port:
            return name
    return GENERIC_COMPAT_PROVIDER


class OpenAICompatibleAdapter(HttpAdapter):
    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        name: str | None = None,
        default_headers: dict[str, str] | None = None,
        timeout: AdapterTimeout | None = None,
        http_client: httpx.Client | None = None,
        tool_choice_modes: tuple[str, ...] = ALL_TOOL_CHOICE_MODES,
    ) -> None:
        # Servers differ (some cannot force a tool call); the client refuses a mode not listed here.
        self.tool_choice_modes = tool_choice_modes
        headers = dict(default_headers or {})
        if api_key:
            headers["authorization"] = f"Bearer {api_key}"
        super().__init__(name or provider_name_for_url(base_url), base_url, headers, timeout, http_client)

    # -- request translation ------------------------------------------------------------------------

    def _user_content(self, message: Message) -> str | list[dict[str, Any]]:
        if all(p.kind == ContentKind.TEXT for p in message.content):
            return message.text
        out: list[dict[str, Any]] = []
        for part in message.content:
            if part.kind == ContentKind.TEXT:
                out.append({"type": "text", "text": part.text or ""})
            elif part.kind == ContentKind.IMAGE and part.image is not None:
                img = part.image
                inline = inline_payload(img.url, img.data, img.media_type, self.name)
                image_url: dict[str, Any] = {"url": data_uri(*inline) if inline else img.url}
                if img.detail:
                    image_url["detail"] = img.detail
                out.append({"type": "image_url", "image_url": image_url})
            elif part.kind in (ContentKind.AUDIO, ContentKind.DOCUMENT):
                raise InvalidRequestError(
                    f"{part.kind} input is not supported over Chat Completions", provider=self.name
                )
        return out

    def _messages(self, request: Request) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for message in request.messages:
            if message.role in (Role.SYSTEM, Role.DEVELOPER):  # few local servers know "developer"
                out.append({"role": "system", "content": message.text})
            elif message.role == Role.USER:
                out.append({"role": "user", "content": self._user_content(message)})
            elif message.role == Role.ASSISTANT:
                entry: dict[str, Any] = {"role": "assistant", "content": message.text or None}
                calls = [
                    {
                        "id": p.tool_call.id,
                        "type": "function",
                        "function": {"name": p.tool_call.name, "arguments": tool_call_json(p.tool_call)},
                    }
                    for p in message.content
                    if p.kind == ContentKind.TOOL_CALL and p.tool_call
                ]
                if calls:
                    entry["tool_calls"] = calls
                out.append(entry)
            elif message.role == Role.TOOL:
                for part in message.content:
                    if part.kind == ContentKind.TOOL_RESULT and part.tool_result is not None:
                        out.append(
                            {
                                "role": "tool",
                                "tool_call_id": part.tool_result.tool_call_id,
                                "content": tool_result_text(part.tool_result.content),
                            }
                        )
        return out

    def build_body(self, request: Request) -> dict[str, Any]:
        body: dict[str, Any] = {"model": request.model, "messages": self._messages(request)}
        if request.tools:
            body["tools"] = [
                {
                    "type": "function",
                    "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
                }
                for t in request.tools
            ]
        if request.tool_choice is not None:
            choice = request.tool_choice
            body["tool_choice"] = (
                {"type": "function", "function": {"name": choice.tool_name}}
                if choice.mode == "named"
                else choice.mode
            )
        fmt = request.response_format
        if fmt is not None and fmt.type == "json_schema":
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": fmt.name, "schema": fmt.json_schema, "strict": fmt.strict},
            }
        elif fmt is not None and fmt.type == "json":
            body["response_format"] = {"type": "json_object"}
        for ours, theirs in (
            ("temperature", "temperature"),
            ("top_p", "top_p"),
            ("max_tokens", "max_tokens"),
            ("stop_sequences", "stop"),
        ):
            if (value := getattr(request, ours)) is not None:
                body[theirs] = value
        if request.reasoning_effort:
            body["reasoning_effort"] = request.reasoning_effort
        merge_options(body, request.options_for(self.name))
        return body

    # -- response translation -----------------------------------------------------------------------

    def parse_response(
        self, payload: dict[str, Any], headers: httpx.Headers | None, request: Request
    ) -> Response:
        choice = (payload.get("choices") or [{}])[0]
        msg = choice.get("message") or {}
        parts: list[ContentPart] = []
        reasoning = msg.get("reasoning_content") or msg.get("reasoning")
        if reasoning:
            parts.append(
                ContentPart(
                    kind=ContentKind.THINKING, thinking=ThinkingData(text=reasoning, provider=self.name)
                )
            )
        if msg.get("content"):
            parts.append(text_part(msg["content"]))
        for call in msg.get("tool_calls") or []:
            fn = call.get("function") or {}
            parts.append(
                ContentPart(
                    kind=ContentKind.TOOL_CALL,
                    tool_call=ToolCallData(
                        id=call.get("id", ""), name=fn.get("name", ""), arguments=fn.get("arguments") or "{}"
                    ),
                )
            )
        raw_reason = choice.get("finish_reason") or "stop"
        usage = payload.get("usage") or {}
        inp, out = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
        return Response(
            id=payload.get("id", ""),
            model=payload.get("model") or request.model,
            provider=self.name,
            message=Message(role=Role.ASSISTANT, content=parts),
            finish_reason=FinishReason(reason=_FINISH.get(raw_reason, "other"), raw=raw_reason),
            usage=Usage(
                input_tokens=inp,
                output_tokens=out,
                total_tokens=int(usage.get("total_tokens") or inp + out),
                reasoning_tokens=(usage.get("completion_tokens_details") or {}).get("reasoning_tokens"),
                cache_read_tokens=(usage.get("prompt_tokens_details") or {}).get("cached_tokens"),
                raw=usage or None,
            ),
            raw=payload,
            rate_limit=parse_rate_limit(headers) if headers else None,
        )

    def complete(self, request: Request, options: CallOptions) -> Response:
        payload, headers = self.http.post_json("chat/completions", self.build_body(request), options)
        return self.parse_response(payload, headers, request)

    def stream(self, request: Request, options: CallOptions) -> Iterator[StreamEvent]:
        body = {**self.build_body(request), "stream": True, "stream_options": {"include_usage": True}}
        with self.http.open_stream("chat/completions", body, options) as response:
            started = text_open = reasoning_open = False
            text, reasoning = "", ""
            calls: dict[int, dict[str, Any]] = {}
            finish: str | None = None
            last: dict[str, Any] = {}
            usage: dict[str, Any] | None = None
            for sse in self.http.iter_sse(response, options):
                if sse.data.strip() == "[DONE]":
                    break
                chunk = decode_event(self.name, sse)
                if "error" in chunk:
                    err = (
                        chunk["error"]
                        if isinstance(chunk["error"], dict)
                        else {"message": str(chunk["error"])}
                    )
                    raise error_from_status(
                        provider=self.name, status=None, message=str(err.get("message")), raw=chunk
                    )
                if not started:
                    started = True
                    yield event(StreamEventType.STREAM_START, raw=chunk)
                last = chunk
                usage = chunk.get("usage") or usage
                for choice in chunk.get("choices") or []:
                    delta = choice.get("delta") or {}
                    think = delta.get("reasoning_content") or delta.get("reasoning")
                    if think:
                        if not reasoning_open:
                            reasoning_open = True
                            yield event(StreamEventType.REASONING_START)
                        reasoning += think
                        yield event(StreamEventType.REASONING_DELTA, reasoning_delta=think)
                    if delta.get("content"):
                        if reasoning_open:
                            reasoning_open = False
                            yield event(StreamEventType.REASONING_END)
                        if not text_open:
                            text_open = True
                            yield event(StreamEventType.TEXT_START, text_id="0")
                        text += delta["content"]
                        yield event(StreamEventType.TEXT_DELTA, delta=delta["content"], text_id="0")
                    for tc in delta.get("tool_calls") or []:
                        index = int(tc.get("index", len(calls)))
                        fn = tc.get("function") or {}
                        if index not in calls:
                            calls[index] = {
                                "id": tc.get("id", ""),
                                "type": "function",
                                "function": {"name": fn.get("name", ""), "arguments": ""},
                            }
                            yield event(
                                StreamEventType.TOOL_CALL_START,
                                tool_call=ToolCall(
                                    id=calls[index]["id"], name=fn.get("name", ""), raw_arguments=""
                                ),
                            )
                        current = calls[index]["function"]
                        if fn.get("arguments"):
                            current["arguments"] += fn["arguments"]
                            yield event(
                                StreamEventType.TOOL_CALL_DELTA,
                                delta=fn["arguments"],
                                tool_call=ToolCall(
                                    id=calls[index]["id"],
                                    name=current["name"],
                                    raw_arguments=current["arguments"],
                                ),
                            )
                    if choice.get("finish_reason"):
                        finish = choice["finish_reason"]
            if not started or finish is None:
                raise StreamError(f"{self.name}: stream ended before a finish_reason")
            if reasoning_open:
                yield event(StreamEventType.REASONING_END)
            if text_open:
                yield event(StreamEventType.TEXT_END, text_id="0")
            for index in sorted(calls):
                call = calls[index]
                yield event(
                    StreamEventType.TOOL_CALL_END,
                    tool_call=ToolCall.from_data(
                        ToolCallData(
                            id=call["id"],
                            name=call["function"]["name"],
                            arguments=call["function"]["arguments"] or "{}",
                        )
                    ),
                )
            message: dict[str, Any] = {"role": "assistant", "content": text or None}
            if reasoning:
                message["reasoning_content"] = reasoning
            if calls:
                message["tool_calls"] = [calls[i] for i in sorted(calls)]
            whole = {
                "id": last.get("id", ""),
                "model": last.get("model", ""),
                "usage": usage,
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            }
            final = self.parse_response(whole, response.headers, request)
            yield event(
                StreamEventType.FINISH, finish_reason=final.finish_reason, usage=final.usage, response=final
            )
