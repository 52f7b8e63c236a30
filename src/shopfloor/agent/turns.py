"""Conversation history (coding-agent-loop-spec 2.4) and its translation into LLM messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from shopfloor.llm.types import Message, Role, ToolCall, ToolResult, Usage


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class UserTurn:
    content: str
    timestamp: datetime = field(default_factory=_now)


@dataclass
class AssistantTurn:
    content: str
    tool_calls: list[ToolCall]
    reasoning: str | None
    usage: Usage
    response_id: str | None
    #: The response message verbatim, so thinking signatures and the like round-trip.
    message: Message | None = None
    timestamp: datetime = field(default_factory=_now)


@dataclass
class ToolResultsTurn:
    results: list[ToolResult]
    #: Tool name per result (some providers want the function name next to its result).
    names: list[str] = field(default_factory=list)
    #: Images some results carry (read_file on a picture): call id -> (bytes, media type).
    images: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    timestamp: datetime = field(default_factory=_now)


@dataclass
class SystemTurn:
    content: str
    timestamp: datetime = field(default_factory=_now)


@dataclass
class SteeringTurn:
    content: str
    timestamp: datetime = field(default_factory=_now)


Turn = UserTurn | AssistantTurn | ToolResultsTurn | SystemTurn | SteeringTurn


def history_to_messages(history: list[Turn]) -> list[Message]:
    """Steering becomes user-role messages (spec 2.6); tool results one tool message each."""
    messages: list[Message] = []
    for turn in history:
        if isinstance(turn, UserTurn | SteeringTurn):
            messages.append(Message.user(turn.content))
        elif isinstance(turn, AssistantTurn):
            messages.append(turn.message if turn.message is not None else Message.assistant(turn.content))
        elif isinstance(turn, ToolResultsTurn):
            names = turn.names or [None] * len(turn.results)
            for result, name in zip(turn.results, names, strict=False):
                message = Message.tool_result(result.tool_call_id, result.content, result.is_error, name=name)
                if result.tool_call_id in turn.images:
                    part = message.content[0].tool_result
                    assert part is not None
                    part.image_data, part.image_media_type = turn.images[result.tool_call_id]
                messages.append(message)
        elif isinstance(turn, SystemTurn):
            messages.append(Message(role=Role.DEVELOPER, content=Message.system(turn.content).content))
    return messages


def history_chars(history: list[Turn]) -> int:
    """Characters of text in the history, for the spec 5.5 ~4-chars-per-token estimate."""
    total = 0
    for turn in history:
        if isinstance(turn, ToolResultsTurn):
            total += sum(
                len(r.content) if isinstance(r.content, str) else len(str(r.content)) for r in turn.results
            )
        elif isinstance(turn, AssistantTurn):
            total += len(turn.content) + len(turn.reasoning or "")
            total += sum(len(tc.raw_arguments or str(tc.arguments)) for tc in turn.tool_calls)
        else:
            total += len(turn.content)
    return total
