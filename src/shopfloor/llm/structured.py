"""Structured output (spec 4.5 / 4.6): `generate_object()` and `stream_object()`.

The schema travels as a `json_schema` response format; each adapter applies its
provider's mechanism (OpenAI json_schema, Gemini responseSchema, Anthropic a
forced tool). The answer is parsed and validated with jsonschema; failure raises
NoObjectGeneratedError (never retried: the model misbehaved, the network did
not). A pydantic model class works as the schema and gives back an instance.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from jsonschema import Draft202012Validator
from pydantic import BaseModel, ValidationError

from shopfloor.llm.errors import NoObjectGeneratedError
from shopfloor.llm.generation import GenerateResult, generate
from shopfloor.llm.partial_json import parse_partial_json
from shopfloor.llm.streaming import StreamResult, stream
from shopfloor.llm.types import ResponseFormat, StreamEventType

_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)

Schema = dict[str, Any] | type[BaseModel]


def _schema_dict(schema: Schema) -> dict[str, Any]:
    return schema.model_json_schema() if isinstance(schema, type) else schema


def _strict_ok(schema: Any) -> bool:
    """Whether OpenAI's strict mode accepts the schema: closed objects that require every property."""
    if isinstance(schema, dict):
        if schema.get("type") == "object":
            props = schema.get("properties") or {}
            if schema.get("additionalProperties") is not False or set(schema.get("required") or []) != set(
                props
            ):
                return False
        return all(_strict_ok(v) for v in schema.values())
    if isinstance(schema, list):
        return all(_strict_ok(v) for v in schema)
    return True


def response_format_for(schema: Schema, name: str = "output") -> ResponseFormat:
    as_dict = _schema_dict(schema)
    return ResponseFormat(type="json_schema", json_schema=as_dict, strict=_strict_ok(as_dict), name=name)


def parse_object(text: str, schema: Schema) -> Any:
    """The validated object in a model's text answer (code fences tolerated)."""
    fenced = _FENCE.match(text)
    body = fenced.group(1) if fenced else text
    try:
        value = json.loads(body)
    except ValueError as exc:
        raise NoObjectGeneratedError(f"the answer is not JSON: {exc}", text=text, cause=exc) from exc
    if isinstance(schema, type):
        try:
            return schema.model_validate(value)
        except ValidationError as exc:
            raise NoObjectGeneratedError(
                f"the object does not match the schema: {exc}", text=text, cause=exc
            ) from exc
    errors = [
        f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
        for e in Draft202012Validator(schema).iter_errors(value)
    ]
    if errors:
        raise NoObjectGeneratedError(
            "the object does not match the schema: " + "; ".join(errors[:5]), text=text
        )
    return value


def generate_object(
    model: str | None = None,
    prompt: str | None = None,
    *,
    schema: Schema,
    schema_name: str = "output",
    **kwargs: Any,
) -> GenerateResult:
    """generate() with a JSON schema; `result.output` is the parsed, validated object."""
    result = generate(model, prompt, response_format=response_format_for(schema, schema_name), **kwargs)
    result.output = parse_object(result.text, schema)
    return result


class StreamObjectResult:
    """Iterate it for partial objects as they grow; `object()` gives the final validated one."""

    def __init__(self, inner: StreamResult, schema: Schema) -> None:
        self._inner = inner
        self._schema = schema
        self._text = ""
        self._object: Any = None
        self._done = False

    def __iter__(self) -> Iterator[Any]:
        last: Any = None
        for event in self._inner:
            if event.type != StreamEventType.TEXT_DELTA or not event.delta:
                continue
            self._text += event.delta
            partial = parse_partial_json(self._text)
            if partial is not None and partial != last:
                last = partial
                yield partial
        self._done = True

    def object(self) -> Any:
        if not self._done:
            for _ in self:
                pass
        if self._object is None:
            self._object = parse_object(self._inner.response().text or self._text, self._schema)
        return self._object

    @property
    def stream_result(self) -> StreamResult:
        return self._inner


def stream_object(
    model: str | None = None,
    prompt: str | None = None,
    *,
    schema: Schema,
    schema_name: str = "output",
    **kwargs: Any,
) -> StreamObjectResult:
    """stream() with a JSON schema, yielding partial objects."""
    inner = stream(model, prompt, response_format=response_format_for(schema, schema_name), **kwargs)
    return StreamObjectResult(inner, schema)
