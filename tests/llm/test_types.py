"""The data model (spec section 3)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shopfloor.llm.types import (
    ContentKind,
    ContentPart,
    Message,
    Request,
    Response,
    Role,
    ThinkingData,
    ToolCallData,
    ToolChoice,
    ToolDefinition,
    Usage,
)


def test_convenience_constructors_build_the_right_roles_and_parts() -> None:
    assert Message.system("s").role == Role.SYSTEM
    assert Message.user("u").text == "u"
    assert Message.assistant("a").role == Role.ASSISTANT
    result = Message.tool_result("call_1", "72F", is_error=True)
    assert result.role == Role.TOOL and result.tool_call_id == "call_1"
    assert result.content[0].tool_result is not None and result.content[0].tool_result.is_error


def test_message_text_concatenates_only_text_parts() -> None:
    message = Message.user(
        [ContentPart.of_text("a"), ContentPart.of_image(url="https://x/y.png"), ContentPart.of_text("b")]
    )
    assert message.text == "ab"
    assert Message(role=Role.ASSISTANT).text == ""


def test_response_accessors() -> None:
    response = Response(
        message=Message.assistant(
            [
                ContentPart(kind=ContentKind.THINKING, thinking=ThinkingData(text="hmm ")),
                ContentPart(kind=ContentKind.THINKING, thinking=ThinkingData(text="ok")),
                ContentPart.of_text("Hi"),
                ContentPart(
                    kind=ContentKind.TOOL_CALL,
                    tool_call=ToolCallData(id="c1", name="f", arguments='{"x": 1}'),
                ),
            ]
        )
    )
    assert response.text == "Hi"
    assert response.reasoning == "hmm ok"
    assert [(c.id, c.name, c.arguments, c.raw_arguments) for c in response.tool_calls] == [
        ("c1", "f", {"x": 1}, '{"x": 1}')
    ]
    assert Response().reasoning is None and Response().cost_usd == 0.0


def test_usage_addition_sums_and_keeps_none_when_both_sides_are_none() -> None:
    a = Usage(input_tokens=10, output_tokens=2, total_tokens=12, cache_read_tokens=4, cost_usd=0.5)
    b = Usage(input_tokens=1, output_tokens=1, total_tokens=2, reasoning_tokens=3)
    total = a + b
    assert (total.input_tokens, total.output_tokens, total.total_tokens) == (11, 3, 14)
    assert total.cache_read_tokens == 4 and total.reasoning_tokens == 3
    assert total.cache_write_tokens is None
    assert total.cost_usd == 0.5


@pytest.mark.parametrize("name", ["1tool", "bad-name", "x" * 65, ""])
def test_tool_names_are_validated_at_definition_time(name: str) -> None:
    with pytest.raises(ValidationError):
        ToolDefinition(name=name)


def test_tool_parameters_must_have_an_object_root() -> None:
    with pytest.raises(ValidationError):
        ToolDefinition(name="ok", parameters={"type": "string"})


def test_tool_choice_modes_are_checked() -> None:
    assert ToolChoice(mode="named", tool_name="f").tool_name == "f"
    with pytest.raises(ValidationError):
        ToolChoice(mode="sometimes")


def test_image_part_needs_exactly_one_source() -> None:
    with pytest.raises(ValueError):
        ContentPart.of_image()
    with pytest.raises(ValueError):
        ContentPart.of_image(url="u", data=b"d")


def test_bytes_round_trip_through_json() -> None:
    request = Request(model="m", messages=[Message.user([ContentPart.of_image(data=b"\x89PNG\x00")])])
    again = Request.model_validate_json(request.model_dump_json())
    assert again.messages[0].content[0].image is not None
    assert again.messages[0].content[0].image.data == b"\x89PNG\x00"
