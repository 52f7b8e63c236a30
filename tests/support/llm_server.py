"""A scripted LLM provider server on loopback that speaks each provider's real wire format.

It is the one test double shopfloor allows: real HTTP, real JSON and SSE, exactly
as OpenAI (Responses and Chat Completions), Anthropic (Messages) and Gemini
(generateContent / streamGenerateContent?alt=sse) send them. Tests queue what the
"model" should answer; the server renders it in the format of whichever endpoint
was called, and records every request it received.

    from tests.support.llm_server import Reply, Fail, ToolUse, llm_server, llm_env  # fixtures

    def test_something(llm_env):            # env vars point every provider here
        llm_env.push(Reply(tool_calls=[ToolUse("get_weather", {"city": "Paris"})]),
                     Reply(text="It is sunny in Paris."))
        ...                                 # code under test calls the LLM client
        assert llm_env.requests[1].body["input"][-1]["type"] == "function_call_output"

Queue items (first in, first out; one per HTTP request):
- `Reply(...)`: text, tool calls, reasoning, usage, finish; streaming faults
  (`drop_after`, `malformed_after`, `stall_after`/`stall_seconds`) and `delay`.
- `Fail(status, message, retry_after=...)`: the provider's own error body.
- `Raw(status, body, headers)`: bytes exactly as given.
- a callable `(RecordedRequest) -> item`, to answer from what was sent.
With the queue empty the server answers `server.default` if set, else a 400
saying nothing was queued (non-retryable, so a missing script fails fast).

Endpoints: POST {url}/v1/responses, {url}/v1/chat/completions, {url}/v1/messages,
{url}/v1beta/models/{model}:generateContent and :streamGenerateContent.
Base URLs for the env vars: `openai_base_url` (…/v1), `anthropic_base_url`,
`gemini_base_url`, `compat_base_url` (…/v1).
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import json
import re
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

__all__ = ["Fail", "Raw", "RecordedRequest", "Reply", "ScriptedLLMServer", "ToolUse", "llm_env", "llm_server"]

API_KEYS = {
    "OPENAI_API_KEY": "sk-test-openai",
    "ANTHROPIC_API_KEY": "sk-ant-test",
    "GEMINI_API_KEY": "test-gemini",
}


@dataclass
class ToolUse:
    """A tool call the scripted model makes."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    id: str | None = None


@dataclass
class Reply:
    text: str = ""
    tool_calls: list[ToolUse] = field(default_factory=list)
    reasoning: str | None = (
        None  # thinking text: OpenAI reasoning summary, Anthropic thinking, Gemini thought
    )
    reasoning_tokens: int | None = None
    signature: str = "sig-scripted"  # Anthropic thinking signature
    redacted_thinking: str | None = None  # Anthropic redacted_thinking payload
    input_tokens: int = 10  # whole prompt, cached included
    output_tokens: int = 5  # reasoning included
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    finish: str | None = None  # None: natural (tool calls or stop); "length"; "content_filter"
    model: str | None = None  # echo the requested model by default
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before the response starts
    chunk_size: int = 4  # characters per streamed text delta
    drop_after: int | None = None  # streaming: cut the connection after this many events
    malformed_after: int | None = None  # streaming: send broken JSON as event number N (0-based)
    stall_after: int | None = None  # streaming: pause after this many events …
    stall_seconds: float = 0.0  # … for this long


@dataclass
class Fail:
    status: int
    message: str = ""
    retry_after: float | None = None
    error_type: str | None = None  # provider error type/code; derived from the status when None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Raw:
    status: int = 200
    body: bytes | str | dict[str, Any] = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class RecordedRequest:
    provider: str  # openai | chat | anthropic | gemini
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    body: dict[str, Any]
    stream: bool


Item = Reply | Fail | Raw | Callable[[RecordedRequest], "Reply | Fail | Raw"]

_OPENAI_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", None),
    404: ("invalid_request_error", "model_not_found"),
    413: ("invalid_request_error", "context_length_exceeded"),
    429: ("rate_limit_exceeded", "rate_limit_exceeded"),
    500: ("server_error", None),
    503: ("server_error", None),
}
_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    503: "overloaded_error",
    529: "overloaded_error",
}
_GEMINI_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}
_GEMINI_PATH = re.compile(r"/models/(?P<model>[^/:]+):(?P<method>generateContent|streamGenerateContent)$")


def _chunks(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), max(1, size))] or []


class _Render:
    """Turns a Reply into one provider's JSON body or SSE event list."""

    def __init__(self, reply: Reply, model: str, seq: int) -> None:
        self.r = reply
        self.model = reply.model or model
        self.seq = seq

    # -- OpenAI Responses --------------------------------------------------------------------------
    def _openai_call_id(self, i: int, call: ToolUse) -> str:
        return call.id or f"call_{self.seq}_{i}"

    def openai_usage(self) -> dict[str, Any]:
        r = self.r
        return {
            "input_tokens": r.input_tokens,
            "input_tokens_details": {"cached_tokens": r.cache_read_tokens},
            "output_tokens": r.output_tokens,
            "output_tokens_details": {"reasoning_tokens": r.reasoning_tokens or 0},
            "total_tokens": r.input_tokens + r.output_tokens,
        }

    def openai_items(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        if self.r.reasoning is not None:
            items.append(
                {
                    "id": f"rs_{self.seq}",
                    "type": "reasoning",
                    "summary": [{"type": "summary_text", "text": self.r.reasoning}],
                }
            )
        if self.r.text:
            items.append(
                {
                    "id": f"msg_{self.seq}",
                    "type": "message",
                    "status": "completed",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": self.r.text, "annotations": []}],
                }
            )
        for i, call in enumerate(self.r.tool_calls):
            items.append(
                {
                    "id": f"fc_{self.seq}_{i}",
                    "type": "function_call",
                    "status": "completed",
                    "call_id": self._openai_call_id(i, call),
                    "name": call.name,
                    "arguments": json.dumps(call.arguments),
                }
            )
        return items

    def openai_json(self) -> dict[str, Any]:
        incomplete = {"length": "max_output_tokens", "content_filter": "content_filter"}.get(
            self.r.finish or ""
        )
        return {
            "id": f"resp_{self.seq}",
            "object": "response",
            "created_at": int(time.time()),
            "status": "incomplete" if incomplete else "completed",
            "model": self.model,
            "output": self.openai_items(),
            "incomplete_details": {"reason": incomplete} if incomplete else None,
            "usage": self.openai_usage(),
        }

    def openai_sse(self) -> list[tuple[str | None, dict[str, Any]]]:
        full = self.openai_json()
        start = {**full, "status": "in_progress", "output": [], "usage": None}
        ev: list[tuple[str | None, dict[str, Any]]] = [
            ("response.created", {"response": start}),
            ("response.in_progress", {"response": start}),
        ]
        for index, item in enumerate(full["output"]):
            if item["type"] == "reasoning":
                ev.append(
                    ("response.output_item.added", {"output_index": index, "item": {**item, "summary": []}})
                )
                for piece in _chunks(self.r.reasoning or "", self.r.chunk_size):
                    ev.append(
                        (
                            "response.reasoning_summary_text.delta",
                            {
                                "item_id": item["id"],
                                "output_index": index,
                                "summary_index": 0,
                                "delta": piece,
                            },
                        )
                    )
                ev.append(
                    (
                        "response.reasoning_summary_text.done",
                        {
                            "item_id": item["id"],
                            "output_index": index,
                            "summary_index": 0,
                            "text": self.r.reasoning,
                        },
                    )
                )
                ev.append(("response.output_item.done", {"output_index": index, "item": item}))
            elif item["type"] == "message":
                ev.append(
                    (
                        "response.output_item.added",
                        {"output_index": index, "item": {**item, "status": "in_progress", "content": []}},
                    )
                )
                part = {"type": "output_text", "text": "", "annotations": []}
                ev.append(
                    (
                        "response.content_part.added",
                        {"item_id": item["id"], "output_index": index, "content_index": 0, "part": part},
                    )
                )
                for piece in _chunks(self.r.text, self.r.chunk_size):
                    ev.append(
                        (
                            "response.output_text.delta",
                            {
                                "item_id": item["id"],
                                "output_index": index,
                                "content_index": 0,
                                "delta": piece,
                            },
                        )
                    )
                ev.append(
                    (
                        "response.output_text.done",
                        {
                            "item_id": item["id"],
                            "output_index": index,
                            "content_index": 0,
                            "text": self.r.text,
                        },
                    )
                )
                ev.append(
                    (
                        "response.content_part.done",
                        {
                            "item_id": item["id"],
                            "output_index": index,
                            "content_index": 0,
                            "part": {**part, "text": self.r.text},
                        },
                    )
                )
                ev.append(("response.output_item.done", {"output_index": index, "item": item}))
            else:
                ev.append(
                    (
                        "response.output_item.added",
                        {"output_index": index, "item": {**item, "status": "in_progress", "arguments": ""}},
                    )
                )
                for piece in _chunks(item["arguments"], 8):
                    ev.append(
                        (
                            "response.function_call_arguments.delta",
                            {"item_id": item["id"], "output_index": index, "delta": piece},
                        )
                    )
                ev.append(
                    (
                        "response.function_call_arguments.done",
                        {"item_id": item["id"], "output_index": index, "arguments": item["arguments"]},
                    )
                )
                ev.append(("response.output_item.done", {"output_index": index, "item": item}))
        ev.append(
            (
                "response.incomplete" if full["status"] == "incomplete" else "response.completed",
                {"response": full},
            )
        )
        return [(name, {"type": name, "sequence_number": n, **data}) for n, (name, data) in enumerate(ev)]

    # -- OpenAI Chat Completions -------------------------------------------------------------------
    def chat_finish(self) -> str:
        return self.r.finish or ("tool_calls" if self.r.tool_calls else "stop")

    def chat_usage(self) -> dict[str, Any]:
        r = self.r
        return {
            "prompt_tokens": r.input_tokens,
            "completion_tokens": r.output_tokens,
            "total_tokens": r.input_tokens + r.output_tokens,
            "prompt_tokens_details": {"cached_tokens": r.cache_read_tokens},
            "completion_tokens_details": {"reasoning_tokens": r.reasoning_tokens or 0},
        }

    def chat_calls(self) -> list[dict[str, Any]]:
        return [
            {
                "id": self._openai_call_id(i, c),
                "type": "function",
                "function": {"name": c.name, "arguments": json.dumps(c.arguments)},
            }
            for i, c in enumerate(self.r.tool_calls)
        ]

    def chat_json(self) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": self.r.text or None}
        if self.r.reasoning is not None:
            message["reasoning_content"] = self.r.reasoning
        if self.r.tool_calls:
            message["tool_calls"] = self.chat_calls()
        return {
            "id": f"chatcmpl-{self.seq}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model,
            "choices": [{"index": 0, "message": message, "finish_reason": self.chat_finish()}],
            "usage": self.chat_usage(),
        }

    def chat_sse(self) -> list[tuple[str | None, dict[str, Any] | str]]:
        base = {
            "id": f"chatcmpl-{self.seq}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": self.model,
        }

        def chunk(delta: dict[str, Any], finish: str | None = None) -> tuple[None, dict[str, Any]]:
            return None, {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

        ev: list[tuple[str | None, dict[str, Any] | str]] = [chunk({"role": "assistant", "content": ""})]
        for piece in _chunks(self.r.reasoning or "", self.r.chunk_size):
            ev.append(chunk({"reasoning_content": piece}))
        for piece in _chunks(self.r.text, self.r.chunk_size):
            ev.append(chunk({"content": piece}))
        for i, call in enumerate(self.chat_calls()):
            ev.append(
                chunk(
                    {
                        "tool_calls": [
                            {
                                "index": i,
                                "id": call["id"],
                                "type": "function",
                                "function": {"name": call["function"]["name"], "arguments": ""},
                            }
                        ]
                    }
                )
            )
            for piece in _chunks(call["function"]["arguments"], 8):
                ev.append(chunk({"tool_calls": [{"index": i, "function": {"arguments": piece}}]}))
        ev.append(chunk({}, self.chat_finish()))
        ev.append((None, {**base, "choices": [], "usage": self.chat_usage()}))
        ev.append((None, "[DONE]"))
        return ev

    # -- Anthropic Messages ------------------------------------------------------------------------
    def anthropic_blocks(self) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = []
        if self.r.reasoning is not None:
            blocks.append({"type": "thinking", "thinking": self.r.reasoning, "signature": self.r.signature})
        if self.r.redacted_thinking is not None:
            blocks.append({"type": "redacted_thinking", "data": self.r.redacted_thinking})
        if self.r.text:
            blocks.append({"type": "text", "text": self.r.text})
        for i, call in enumerate(self.r.tool_calls):
            blocks.append(
                {
                    "type": "tool_use",
                    "id": call.id or f"toolu_{self.seq}_{i}",
                    "name": call.name,
                    "input": call.arguments,
                }
            )
        return blocks

    def anthropic_usage(self) -> dict[str, Any]:
        r = self.r
        return {
            "input_tokens": r.input_tokens - r.cache_read_tokens - r.cache_write_tokens,
            "cache_creation_input_tokens": r.cache_write_tokens,
            "cache_read_input_tokens": r.cache_read_tokens,
            "output_tokens": r.output_tokens,
        }

    def anthropic_stop(self) -> str:
        return {"length": "max_tokens", "content_filter": "refusal"}.get(
            self.r.finish or "", "tool_use" if self.r.tool_calls else "end_turn"
        )

    def anthropic_json(self) -> dict[str, Any]:
        return {
            "id": f"msg_{self.seq}",
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": self.anthropic_blocks(),
            "stop_reason": self.anthropic_stop(),
            "stop_sequence": None,
            "usage": self.anthropic_usage(),
        }

    def anthropic_sse(self) -> list[tuple[str | None, dict[str, Any]]]:
        full = self.anthropic_json()
        start_usage = {**full["usage"], "output_tokens": 1}
        ev: list[tuple[str | None, dict[str, Any]]] = [
            (
                "message_start",
                {"message": {**full, "content": [], "stop_reason": None, "usage": start_usage}},
            ),
            ("ping", {}),
        ]
        for index, block in enumerate(full["content"]):
            kind = block["type"]
            if kind == "text":
                ev.append(
                    ("content_block_start", {"index": index, "content_block": {"type": "text", "text": ""}})
                )
                for piece in _chunks(block["text"], self.r.chunk_size):
                    ev.append(
                        (
                            "content_block_delta",
                            {"index": index, "delta": {"type": "text_delta", "text": piece}},
                        )
                    )
            elif kind == "thinking":
                ev.append(
                    (
                        "content_block_start",
                        {
                            "index": index,
                            "content_block": {"type": "thinking", "thinking": "", "signature": ""},
                        },
                    )
                )
                for piece in _chunks(block["thinking"], self.r.chunk_size):
                    ev.append(
                        (
                            "content_block_delta",
                            {"index": index, "delta": {"type": "thinking_delta", "thinking": piece}},
                        )
                    )
                ev.append(
                    (
                        "content_block_delta",
                        {
                            "index": index,
                            "delta": {"type": "signature_delta", "signature": block["signature"]},
                        },
                    )
                )
            elif kind == "redacted_thinking":
                ev.append(("content_block_start", {"index": index, "content_block": block}))
            else:
                ev.append(("content_block_start", {"index": index, "content_block": {**block, "input": {}}}))
                for piece in _chunks(json.dumps(block["input"]), 8):
                    ev.append(
                        (
                            "content_block_delta",
                            {"index": index, "delta": {"type": "input_json_delta", "partial_json": piece}},
                        )
                    )
            ev.append(("content_block_stop", {"index": index}))
        ev.append(
            (
                "message_delta",
                {
                    "delta": {"stop_reason": full["stop_reason"], "stop_sequence": None},
                    "usage": {"output_tokens": self.r.output_tokens},
                },
            )
        )
        ev.append(("message_stop", {}))
        return [(name, {"type": name, **data}) for name, data in ev]

    # -- Gemini ------------------------------------------------------------------------------------
    def gemini_usage(self) -> dict[str, Any]:
        r = self.r
        meta: dict[str, Any] = {
            "promptTokenCount": r.input_tokens,
            "candidatesTokenCount": r.output_tokens - (r.reasoning_tokens or 0),
            "totalTokenCount": r.input_tokens + r.output_tokens,
        }
        if r.reasoning_tokens:
            meta["thoughtsTokenCount"] = r.reasoning_tokens
        if r.cache_read_tokens:
            meta["cachedContentTokenCount"] = r.cache_read_tokens
        return meta

    def gemini_finish(self) -> str:
        return {"length": "MAX_TOKENS", "content_filter": "SAFETY"}.get(self.r.finish or "", "STOP")

    def gemini_parts(self) -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = []
        if self.r.reasoning is not None:
            parts.append({"text": self.r.reasoning, "thought": True})
        if self.r.text:
            parts.append({"text": self.r.text})
        parts += [{"functionCall": {"name": c.name, "args": c.arguments}} for c in self.r.tool_calls]
        return parts

    def gemini_json(self) -> dict[str, Any]:
        return {
            "candidates": [
                {
                    "content": {"parts": self.gemini_parts(), "role": "model"},
                    "finishReason": self.gemini_finish(),
                    "index": 0,
                }
            ],
            "usageMetadata": self.gemini_usage(),
            "modelVersion": self.model,
            "responseId": f"gem-{self.seq}",
        }

    def gemini_sse(self) -> list[tuple[str | None, dict[str, Any]]]:
        def chunk(parts: list[dict[str, Any]], last: bool = False) -> tuple[None, dict[str, Any]]:
            candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
            body: dict[str, Any] = {
                "candidates": [candidate],
                "modelVersion": self.model,
                "responseId": f"gem-{self.seq}",
            }
            if last:
                candidate["finishReason"] = self.gemini_finish()
                body["usageMetadata"] = self.gemini_usage()
            return None, body

        ev = [
            chunk([{"text": p, "thought": True}]) for p in _chunks(self.r.reasoning or "", self.r.chunk_size)
        ]
        ev += [chunk([{"text": p}]) for p in _chunks(self.r.text, self.r.chunk_size)]
        calls = [{"functionCall": {"name": c.name, "args": c.arguments}} for c in self.r.tool_calls]
        if calls:
            ev.append(chunk(calls))
        ev.append(chunk([{"text": ""}] if not ev else [], last=True))
        return ev


def _error_body(provider: str, fail: Fail) -> dict[str, Any]:
    message = fail.message or f"scripted {fail.status} error"
    if provider == "anthropic":
        return {
            "type": "error",
            "error": {
                "type": fail.error_type or _ANTHROPIC_TYPES.get(fail.status, "api_error"),
                "message": message,
            },
        }
    if provider == "gemini":
        error: dict[str, Any] = {
            "code": fail.status,
            "message": message,
            "status": fail.error_type or _GEMINI_STATUS.get(fail.status, "UNKNOWN"),
        }
        if fail.retry_after is not None:
            error["details"] = [
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{fail.retry_after:g}s"}
            ]
        return {"error": error}
    etype, code = _OPENAI_TYPES.get(fail.status, ("server_error", None))
    return {"error": {"message": message, "type": fail.error_type or etype, "param": None, "code": code}}


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that cancels or times out resets its connection: expected, not worth a traceback.
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


class ScriptedLLMServer:
    """Real HTTP on 127.0.0.1 (port picked by the OS); a context manager that stops on exit."""

    def __init__(self) -> None:
        self._queue: collections.deque[Item] = collections.deque()
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self.requests: list[RecordedRequest] = []
        self.default: Item | None = None
        self._httpd = _QuietServer(("127.0.0.1", 0), self._handler_class())
        # A short poll interval: shutdown() waits up to one interval, once per test.
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="llm-server", daemon=True)

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> ScriptedLLMServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> ScriptedLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- scripting ---------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/v1"

    compat_base_url = openai_base_url

    @property
    def anthropic_base_url(self) -> str:
        return self.url

    @property
    def gemini_base_url(self) -> str:
        return self.url

    def env(self) -> dict[str, str]:
        """Environment variables that point all three native providers at this server."""
        return {
            **API_KEYS,
            "OPENAI_BASE_URL": self.openai_base_url,
            "ANTHROPIC_BASE_URL": self.anthropic_base_url,
            "GEMINI_BASE_URL": self.gemini_base_url,
        }

    def push(self, *items: Item) -> ScriptedLLMServer:
        with self._lock:
            self._queue.extend(items)
        return self

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    @property
    def last(self) -> RecordedRequest:
        return self.requests[-1]

    def _next(self, request: RecordedRequest) -> Reply | Fail | Raw:
        with self._lock:
            self.requests.append(request)
            item = self._queue.popleft() if self._queue else self.default
        if item is None:
            return Fail(400, f"scripted LLM server: no reply queued for {request.method} {request.path}")
        return item(request) if callable(item) else item

    # -- HTTP --------------------------------------------------------------------------------------
    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # as real API servers do; else small writes wait for delayed ACKs

            def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                parsed = urlparse(self.path)
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else {}
                except ValueError:
                    body = {"_unparsed": raw.decode("utf-8", "replace")}
                provider, model, stream = _route(parsed.path, body)
                recorded = RecordedRequest(
                    provider=provider,
                    method="POST",
                    path=parsed.path,
                    query={k: v[0] for k, v in parse_qs(parsed.query).items()},
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                    stream=stream,
                )
                if provider == "unknown":
                    self._send_json(404, {"error": {"message": f"no such endpoint {parsed.path}"}}, {})
                    return
                item = server._next(recorded)
                if isinstance(item, Raw):
                    data = (
                        item.body
                        if isinstance(item.body, bytes)
                        else (
                            item.body.encode()
                            if isinstance(item.body, str)
                            else json.dumps(item.body).encode()
                        )
                    )
                    self._send_bytes(item.status, data, {"content-type": "application/json", **item.headers})
                    return
                if isinstance(item, Fail):
                    headers = dict(item.headers)
                    if item.retry_after is not None:
                        headers["retry-after"] = f"{item.retry_after:g}"
                    self._send_json(item.status, _error_body(provider, item), headers)
                    return
                if item.delay:
                    time.sleep(item.delay)
                render = _Render(item, model, next(server._seq))
                if not stream:
                    body_out = {
                        "openai": render.openai_json,
                        "chat": render.chat_json,
                        "anthropic": render.anthropic_json,
                        "gemini": render.gemini_json,
                    }[provider]()
                    self._send_json(200, body_out, item.headers)
                    return
                events = {
                    "openai": render.openai_sse,
                    "chat": render.chat_sse,
                    "anthropic": render.anthropic_sse,
                    "gemini": render.gemini_sse,
                }[provider]()
                self._send_sse(events, item, "\r\n\r\n" if provider == "gemini" else "\n\n")

            def _send_bytes(self, status: int, data: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _send_json(self, status: int, payload: dict[str, Any], headers: dict[str, str]) -> None:
                self._send_bytes(
                    status, json.dumps(payload).encode(), {"content-type": "application/json", **headers}
                )

            def _chunk(self, data: bytes) -> None:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            def _send_sse(self, events: list[tuple[str | None, Any]], reply: Reply, end: str) -> None:
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("transfer-encoding", "chunked")
                self.send_header("cache-control", "no-cache")
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                for n, (name, data) in enumerate(events):
                    if reply.drop_after is not None and n >= reply.drop_after:
                        self._drop()
                        return
                    if reply.stall_after is not None and n == reply.stall_after:
                        time.sleep(reply.stall_seconds)
                    payload = data if isinstance(data, str) else json.dumps(data)
                    if reply.malformed_after is not None and n == reply.malformed_after:
                        payload = '{"type": "broken", "oops'
                    prefix = f"event: {name}\n" if name else ""
                    try:
                        self._chunk(f"{prefix}data: {payload}{end}".encode())
                    except (BrokenPipeError, ConnectionResetError):
                        return  # the client went away (cancelled): nothing more to send
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

            def _drop(self) -> None:
                """Cut the connection mid-stream, without the terminating chunk."""
                self.wfile.flush()
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True

        return Handler


def _route(path: str, body: dict[str, Any]) -> tuple[str, str, bool]:
    """(provider, model, streaming) for a request path and body."""
    model = str(body.get("model", ""))
    stream = bool(body.get("stream"))
    if path.endswith("/responses"):
        return "openai", model, stream
    if path.endswith("/chat/completions"):
        return "chat", model, stream
    if path.endswith("/messages"):
        return "anthropic", model, stream
    if (m := _GEMINI_PATH.search(path)) is not None:
        return "gemini", m["model"], m["method"] == "streamGenerateContent"
    return "unknown", model, stream


@pytest.fixture
def llm_server() -> Iterator[ScriptedLLMServer]:
    """A running scripted server, stopped after the test."""
    with ScriptedLLMServer() as server:
        yield server


@pytest.fixture
def llm_env(llm_server: ScriptedLLMServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedLLMServer]:
    """The scripted server with OPENAI_*, ANTHROPIC_* and GEMINI_* env vars pointing at it.

    The module-level default LLM client is reset before and after, so code that
    calls `shopfloor.llm.generate(...)` without a client reaches this server.
    """
    from shopfloor.llm.client import set_default_client

    for name, value in llm_server.env().items():
        monkeypatch.setenv(name, value)
    set_default_client(None)
    yield llm_server
    set_default_client(None)
