"""The unified data model (unified-llm-spec section 3): one shape for every provider.

Adapters translate these records to and from each provider's native wire format;
everything above the adapters (client, middleware, high-level API, agent) speaks
only these types. They are pydantic models so that they validate, copy and
serialise (bytes as base64) without hand-written code.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Record(BaseModel):
    # Bytes (images, audio) travel as base64 in JSON; enums serialise as their values.
    model_config = ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")


class Role(StrEnum):
    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"
    DEVELOPER = "developer"


class ContentKind(StrEnum):
    TEXT = "text"
    IMAGE = "image"
    AUDIO = "audio"
    DOCUMENT = "document"
    TOOL_CALL = "tool_call"
    TOOL_RESULT = "tool_result"
    THINKING = "thinking"
    REDACTED_THINKING = "redacted_thinking"


class _MediaSource(_Record):
    """Media given as a URL (http(s), data: URI or local file path) or as raw bytes."""

    url: str | None = None
    data: bytes | None = None
    media_type: str | None = None


class ImageData(_MediaSource):
    """An image as a URL (http(s), data: URI or local file path) or as raw bytes."""

    detail: str | None = None


class AudioData(_MediaSource):
    """Audio as a URL or as raw bytes."""


class DocumentData(_MediaSource):
    file_name: str | None = None


class ToolCallData(_Record):
    """A model-initiated tool invocation inside an assistant message."""

    id: str
    name: str
    arguments: dict[str, Any] | str = Field(default_factory=dict)
    type: str = "function"
    # Gemini 3 attaches an opaque thoughtSignature to function calls that must round-trip.
    signature: str | None = None


class ToolResultData(_Record):
    tool_call_id: str
    content: str | dict[str, Any] | list[Any] = ""
    is_error: bool = False
    image_data: bytes | None = None
    image_media_type: str | None = None


class ThinkingData(_Record):
    """Reasoning text; `signature` (or the opaque redacted payload) must round-trip verbatim."""

    text: str = ""
    signature: str | None = None
    redacted: bool = False
    # The provider that produced it: signatures and redacted payloads only go back there (spec 3.5).
    provider: str | None = None


class ContentPart(_Record):
    """Tagged union: `kind` says which one of the data fields is populated."""

    kind: ContentKind | str
    text: str | None = None
    image: ImageData | None = None
    audio: AudioData | None = None
    document: DocumentData | None = None
    tool_call: ToolCallData | None = None
    tool_result: ToolResultData | None = None
    thinking: ThinkingData | None = None

    @classmethod
    def of_text(cls, text: str) -> ContentPart:
        return cls(kind=ContentKind.TEXT, text=text)

    @classmethod
    def of_image(
        cls,
        *,
        url: str | None = None,
        data: bytes | None = None,
        media_type: str | None = None,
        detail: str | None = None,
    ) -> ContentPart:
        if (url is None) == (data is None):
            raise ValueError("an image needs exactly one of url or data")
        return cls(
            kind=ContentKind.IMAGE, image=ImageData(url=url, data=data, media_type=media_type, detail=detail)
        )


class Message(_Record):
    role: Role
    content: list[ContentPart] = Field(default_factory=list)
    name: str | None = None
    tool_call_id: str | None = None

    @classmethod
    def system(cls, text: str) -> Message:
        return cls(role=Role.SYSTEM, content=[ContentPart.of_text(text)])

    @classmethod
    def developer(cls, text: str) -> Message:
        return cls(role=Role.DEVELOPER, content=[ContentPart.of_text(text)])

    @classmethod
    def user(cls, content: str | list[ContentPart]) -> Message:
        parts = [ContentPart.of_text(content)] if isinstance(content, str) else list(content)
        return cls(role=Role.USER, content=parts)

    @classmethod
    def assistant(cls, content: str | list[ContentPart]) -> Message:
        parts = [ContentPart.of_text(content)] if isinstance(content, str) else list(content)
        return cls(role=Role.ASSISTANT, content=parts)

    @classmethod
    def tool_result(
        cls,
        tool_call_id: str,
        content: str | dict[str, Any] | list[Any],
        is_error: bool = False,
        name: str | None = None,
    ) -> Message:
        part = ContentPart(
            kind=ContentKind.TOOL_RESULT,
            tool_result=ToolResultData(tool_call_id=tool_call_id, content=content, is_error=is_error),
        )
        return cls(role=Role.TOOL, content=[part], tool_call_id=tool_call_id, name=name)

    @property
    def text(self) -> str:
        return "".join(p.text or "" for p in self.content if p.kind == ContentKind.TEXT)

    @property
    def tool_calls(self) -> list[ToolCall]:
        return [
            ToolCall.from_data(p.tool_call)
            for p in self.content
            if p.kind == ContentKind.TOOL_CALL and p.tool_call is not None
        ]


TOOL_NAME_PATTERN = re.compile(r"^[a-zA-Z][a-zA-Z0-9_]{0,63}$")


class ToolDefinition(_Record):
    """What the model is told about a tool: name, description, JSON Schema of the arguments."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})

    @field_validator("name")
    @classmethod
    def _valid_name(cls, name: str) -> str:
        if not TOOL_NAME_PATTERN.match(name):
            raise ValueError(f"tool name {name!r} must match [a-zA-Z][a-zA-Z0-9_]* (at most 64 chars)")
        return name

    @field_validator("parameters")
    @classmethod
    def _object_root(cls, parameters: dict[str, Any]) -> dict[str, Any]:
        if parameters.get("type") != "object":
            raise ValueError('tool parameters must be a JSON Schema with "type": "object" at the root')
        return parameters


class Tool(ToolDefinition):
    """A tool for the high-level API; with `execute` it is active (run automatically)."""

    execute: Callable[..., Any] | None = Field(default=None, exclude=True)

    def definition(self) -> ToolDefinition:
        return ToolDefinition(name=self.name, description=self.description, parameters=self.parameters)


class ToolChoice(_Record):
    mode: str = "auto"  # auto | none | required | named
    tool_name: str | None = None

    @field_validator("mode")
    @classmethod
    def _known_mode(cls, mode: str) -> str:
        if mode not in ("auto", "none", "required", "named"):
            raise ValueError(f"tool choice mode {mode!r} is not one of auto, none, required, named")
        return mode


class ToolCall(_Record):
    """A tool call extracted from a response, with its arguments parsed."""

    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    raw_arguments: str | None = None
    signature: str | None = None

    @classmethod
    def from_data(cls, data: ToolCallData) -> ToolCall:
        if isinstance(data.arguments, dict):
            return cls(
                id=data.id,
                name=data.name,
                arguments=data.arguments,
                raw_arguments=json.dumps(data.arguments),
                signature=data.signature,
            )
        try:
            parsed = json.loads(data.arguments) if data.arguments.strip() else {}
        except ValueError:
            parsed = None
        return cls(
            id=data.id,
            name=data.name,
            arguments=parsed if isinstance(parsed, dict) else {},
            raw_arguments=data.arguments,
            signature=data.signature,
        )


class ToolResult(_Record):
    tool_call_id: str
    content: str | dict[str, Any] | list[Any] = ""
    is_error: bool = False


class ResponseFormat(_Record):
    type: str = "text"  # text | json | json_schema
    json_schema: dict[str, Any] | None = None
    strict: bool = False
    name: str = "output"


class Request(_Record):
    model: str
    messages: list[Message]
    provider: str | None = None
    tools: list[ToolDefinition] | None = None
    tool_choice: ToolChoice | None = None
    response_format: ResponseFormat | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop_sequences: list[str] | None = None
    reasoning_effort: str | None = None
    metadata: dict[str, str] | None = None
    provider_options: dict[str, Any] | None = None

    def options_for(self, provider: str) -> dict[str, Any]:
        """This provider's slice of the provider_options escape hatch (empty when none)."""
        return dict((self.provider_options or {}).get(provider) or {})


class FinishReason(_Record):
    reason: str  # stop | length | tool_calls | content_filter | error | other
    raw: str | None = None


def _add_optional(a: int | None, b: int | None) -> int | None:
    return None if a is None and b is None else (a or 0) + (b or 0)


class Usage(_Record):
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    reasoning_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    # Priced by the client from the model catalog (llm.catalog); None until priced.
    cost_usd: float | None = None
    raw: dict[str, Any] | None = None

    def __add__(self, other: Usage) -> Usage:
        cost = (
            None
            if self.cost_usd is None and other.cost_usd is None
            else (self.cost_usd or 0.0) + (other.cost_usd or 0.0)
        )
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
            reasoning_tokens=_add_optional(self.reasoning_tokens, other.reasoning_tokens),
            cache_read_tokens=_add_optional(self.cache_read_tokens, other.cache_read_tokens),
            cache_write_tokens=_add_optional(self.cache_write_tokens, other.cache_write_tokens),
            cost_usd=cost,
        )


class Warning(_Record):
    """A non-fatal issue (the spec's name; import it as `llm.types.Warning`)."""

    message: str
    code: str | None = None


class RateLimitInfo(_Record):
    requests_remaining: int | None = None
    requests_limit: int | None = None
    tokens_remaining: int | None = None
    tokens_limit: int | None = None
    reset_at: float | None = None  # unix timestamp (seconds)


class Response(_Record):
    id: str = ""
    model: str = ""
    provider: str = ""
    message: Message = Field(default_factory=lambda: Message(role=Role.ASSISTANT))
    finish_reason: FinishReason = Field(default_factory=lambda: FinishReason(reason="stop"))
    usage: Usage = Field(default_factory=Usage)
    raw: dict[str, Any] | None = None
    warnings: list[Warning] = Field(default_factory=list)
    rate_limit: RateLimitInfo | None = None

    @property
    def text(self) -> str:
        return self.message.text

    @property
    def tool_calls(self) -> list[ToolCall]:
        return self.message.tool_calls

    @property
    def reasoning(self) -> str | None:
        parts = [
            p.thinking.text
            for p in self.message.content
            if p.kind == ContentKind.THINKING and p.thinking is not None
        ]
        return "".join(parts) if parts else None

    @property
    def cost_usd(self) -> float:
        return self.usage.cost_usd or 0.0


class StreamEventType(StrEnum):
    STREAM_START = "stream_start"
    TEXT_START = "text_start"
    TEXT_DELTA = "text_delta"
    TEXT_END = "text_end"
    REASONING_START = "reasoning_start"
    REASONING_DELTA = "reasoning_delta"
    REASONING_END = "reasoning_end"
    TOOL_CALL_START = "tool_call_start"
    TOOL_CALL_DELTA = "tool_call_delta"
    TOOL_CALL_END = "tool_call_end"
    FINISH = "finish"
    ERROR = "error"
    PROVIDER_EVENT = "provider_event"
    # Emitted by the high-level stream() between tool-loop steps (spec 5.9).
    STEP_FINISH = "step_finish"


class StreamEvent(_Record):
    model_config = ConfigDict(arbitrary_types_allowed=True, ser_json_bytes="base64")

    type: StreamEventType | str
    delta: str | None = None
    text_id: str | None = None
    reasoning_delta: str | None = None
    tool_call: ToolCall | None = None
    finish_reason: FinishReason | None = None
    usage: Usage | None = None
    response: Response | None = None
    error: Exception | None = Field(default=None, exclude=True)
    warnings: list[Warning] | None = None
    raw: dict[str, Any] | None = None


class TimeoutConfig(_Record):
    """High-level timeouts: the whole multi-step operation and each LLM call."""

    total: float | None = None
    per_step: float | None = None


# Adapter-level timeout defaults (spec 4.7), seconds.
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_REQUEST_TIMEOUT = 120.0
DEFAULT_STREAM_READ_TIMEOUT = 30.0


class AdapterTimeout(_Record):
    connect: float = DEFAULT_CONNECT_TIMEOUT
    request: float = DEFAULT_REQUEST_TIMEOUT
    stream_read: float = DEFAULT_STREAM_READ_TIMEOUT


class ModelInfo(_Record):
    """A catalog entry (spec 2.9) plus the prices shopfloor needs for cost accounting."""

    id: str
    provider: str
    display_name: str = ""
    context_window: int = 0
    max_output: int | None = None
    supports_tools: bool = True
    supports_vision: bool = False
    supports_reasoning: bool = False
    input_cost_per_million: float | None = None
    output_cost_per_million: float | None = None
    cache_read_cost_per_million: float | None = None
    cache_write_cost_per_million: float | None = None
    aliases: list[str] = Field(default_factory=list)
