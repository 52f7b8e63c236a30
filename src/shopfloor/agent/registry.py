"""The tool registry (coding-agent-loop-spec 3.7-3.8): lookup, argument validation, dispatch.

A tool is a ToolDefinition (what the model sees) plus an executor called as
`executor(arguments, env)`; tools that need the calling session (shell's
timeouts, the subagent tools) set `wants_session` and are called as
`executor(arguments, env, session=...)`. Registering a name twice replaces the
first: custom tools win over profile defaults.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from shopfloor.llm.types import ToolDefinition


@dataclass(frozen=True)
class ToolOutput:
    """What an executor may return instead of a str: text plus an image for multimodal models."""

    text: str
    image_data: bytes | None = None
    image_media_type: str | None = None


class ToolError(Exception):
    """A failure the model should read and recover from (file not found, edit conflict, ...)."""


class InvalidArguments(ToolError):
    """The call's arguments are not JSON or do not fit the tool's schema."""


def tool_definition(
    name: str, description: str, properties: dict[str, Any], required: list[str]
) -> ToolDefinition:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }
    return ToolDefinition(name=name, description=description, parameters=schema)


@dataclass
class RegisteredTool:
    definition: ToolDefinition
    executor: Callable[..., Any]
    wants_session: bool = False

    @property
    def name(self) -> str:
        return self.definition.name


class ToolRegistry:
    def __init__(self, tools: list[RegisteredTool] | None = None) -> None:
        self._tools: dict[str, RegisteredTool] = {}
        self._validators: dict[str, Draft202012Validator] = {}
        for tool in tools or []:
            self.register(tool)

    def register(self, tool: RegisteredTool) -> None:
        """Add or replace (latest wins) a tool; a malformed schema is rejected here, not at call time."""
        schema = tool.definition.parameters
        if not isinstance(schema, dict) or schema.get("type") != "object":
            raise ValueError(f"tool {tool.name!r}: the parameters schema must have type 'object' at its root")
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            raise ValueError(f"tool {tool.name!r}: invalid parameters schema: {exc.message}") from None
        self._tools[tool.name] = tool
        self._validators[tool.name] = Draft202012Validator(schema)

    def unregister(self, name: str) -> None:
        self._tools.pop(name, None)
        self._validators.pop(name, None)

    def get(self, name: str) -> RegisteredTool | None:
        return self._tools.get(name)

    def definitions(self) -> list[ToolDefinition]:
        return [t.definition for t in self._tools.values()]

    def names(self) -> list[str]:
        return list(self._tools)

    def copy(self) -> ToolRegistry:
        return ToolRegistry(list(self._tools.values()))

    def validate_arguments(self, name: str, arguments: Any) -> dict[str, Any]:
        """Parse (when a string) and validate `arguments`; raise InvalidArguments saying what is wrong."""
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments) if arguments.strip() else {}
            except json.JSONDecodeError as exc:
                raise InvalidArguments(
                    f"Invalid arguments for tool: {name}: not valid JSON ({exc.msg})"
                ) from None
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, dict):
            raise InvalidArguments(f"Invalid arguments for tool: {name}: expected a JSON object")
        error = next(iter(sorted(self._validators[name].iter_errors(arguments), key=lambda e: e.path)), None)
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path)
            raise InvalidArguments(
                f"Invalid arguments for tool: {name}: " + (f"{where}: " if where else "") + error.message
            )
        return arguments
