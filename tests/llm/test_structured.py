"""Structured output (spec 4.5 / 4.6, DoD 8.4): generate_object, stream_object, partial JSON."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel

from shopfloor.llm import generate_object, stream_object
from shopfloor.llm.errors import NoObjectGeneratedError
from shopfloor.llm.partial_json import parse_partial_json
from tests.support.llm_server import Reply, ScriptedLLMServer, ToolUse

PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
}
MODELS = {"openai": "gpt-5.2", "anthropic": "claude-opus-4-6", "gemini": "gemini-3-flash-preview"}


def _answer(provider: str, obj: object) -> Reply:
    """How each provider returns the object: as JSON text, or (Anthropic) as the forced tool's input."""
    if provider == "anthropic":
        return Reply(tool_calls=[ToolUse("structured_output", obj)])  # type: ignore[arg-type]
    return Reply(text=json.dumps(obj))


@pytest.mark.parametrize("provider", list(MODELS))
def test_generate_object_returns_the_validated_object(llm_env: ScriptedLLMServer, provider: str) -> None:
    llm_env.push(_answer(provider, {"name": "Alice", "age": 30}))
    result = generate_object(MODELS[provider], "Extract: Alice is 30 years old", schema=PERSON)
    assert result.output == {"name": "Alice", "age": 30}
    assert json.loads(result.text) == {"name": "Alice", "age": 30}


@pytest.mark.parametrize("provider", list(MODELS))
def test_schema_violations_raise_no_object_generated(llm_env: ScriptedLLMServer, provider: str) -> None:
    llm_env.push(_answer(provider, {"name": "Alice", "age": "thirty"}))
    with pytest.raises(NoObjectGeneratedError, match="age"):
        generate_object(MODELS[provider], "x", schema=PERSON)
    assert len(llm_env.requests) == 1  # validation failures are not retried


def test_non_json_answers_raise_no_object_generated(llm_env: ScriptedLLMServer) -> None:
    llm_env.push(Reply(text="Alice, 30"))
    with pytest.raises(NoObjectGeneratedError, match="not JSON") as info:
        generate_object("gpt-5.2", "x", schema=PERSON)
    assert info.value.text == "Alice, 30"


def test_code_fences_are_tolerated(llm_env: ScriptedLLMServer) -> None:
    llm_env.push(Reply(text='```json\n{"name": "Bo", "age": 4}\n```'))
    assert generate_object("gpt-5.2", "x", schema=PERSON).output == {"name": "Bo", "age": 4}


def test_pydantic_models_work_as_schemas(llm_env: ScriptedLLMServer) -> None:
    class Person(BaseModel):
        name: str
        age: int

    llm_env.push(Reply(text='{"name": "Cy", "age": 7}'))
    result = generate_object("gpt-5.2", "x", schema=Person)
    assert result.output == Person(name="Cy", age=7)
    assert llm_env.last.body["text"]["format"]["schema"]["required"] == ["name", "age"]


def test_openai_strict_mode_only_for_strict_compatible_schemas(llm_env: ScriptedLLMServer) -> None:
    closed = {**PERSON, "additionalProperties": False}
    llm_env.push(Reply(text='{"name": "A", "age": 1}'), Reply(text='{"name": "A", "age": 1}'))
    generate_object("gpt-5.2", "x", schema=closed)
    assert llm_env.last.body["text"]["format"]["strict"] is True
    generate_object("gpt-5.2", "x", schema=PERSON)
    assert llm_env.last.body["text"]["format"]["strict"] is False


@pytest.mark.parametrize("provider", list(MODELS))
def test_stream_object_yields_growing_partial_objects(llm_env: ScriptedLLMServer, provider: str) -> None:
    recipes = {"recipes": [{"name": "Soup", "minutes": 20}, {"name": "Salad", "minutes": 5}]}
    schema = {"type": "object", "properties": {"recipes": {"type": "array"}}, "required": ["recipes"]}
    reply = _answer(provider, recipes)
    reply.chunk_size = 6
    llm_env.push(reply)
    result = stream_object(MODELS[provider], "two recipes", schema=schema)
    partials = list(result)
    assert len(partials) > 2
    counts = [len(p.get("recipes", [])) for p in partials]
    assert counts == sorted(counts) and counts[-1] == 2
    assert result.object() == recipes


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('{"a": [1, 2, 3', {"a": [1, 2]}),
        ('{"name": "Ali', {"name": "Ali"}),
        ('{"n": tr', {}),
        ('{"x": {"y": [{"z": 1}, ', {"x": {"y": [{"z": 1}]}}),
        ('{"k', {}),
        ('{"s": "a\\"b', {"s": 'a"b'}),
        ("", None),
        ('{"done": true}', {"done": True}),
    ],
)
def test_partial_json(text: str, value: object) -> None:
    assert parse_partial_json(text) == value
