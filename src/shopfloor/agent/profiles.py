"""Provider profiles (coding-agent-loop-spec 3.2-3.7): each model family gets its native tools and prompt.

- openai: codex-rs-aligned; `apply_patch` (v4a) edits, 10 s shell timeout.
- anthropic: Claude Code-aligned; `edit_file` (old_string/new_string), 120 s shell timeout.
- gemini: gemini-cli-aligned; `edit_file` with expected_replacements, `read_many_files`, `list_dir`.

A profile's `tool_registry` can be extended after creation; a custom tool with a
profile tool's name replaces it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from shopfloor.agent.prompts import base_instructions
from shopfloor.agent.registry import RegisteredTool, ToolRegistry
from shopfloor.agent.subagents import SUBAGENT_TOOLS
from shopfloor.agent.tools.apply_patch import APPLY_PATCH
from shopfloor.agent.tools.files import (
    EDIT_FILE,
    GEMINI_EDIT_FILE,
    LIST_DIR,
    READ_FILE,
    READ_MANY_FILES,
    WRITE_FILE,
)
from shopfloor.agent.tools.search import GLOB, grep_tool
from shopfloor.agent.tools.shell import shell_tool
from shopfloor.llm.catalog import default_catalog
from shopfloor.llm.types import ToolDefinition

DEFAULT_OPENAI_MODEL = "gpt-5.2-codex"
DEFAULT_ANTHROPIC_MODEL = "claude-sonnet-4-5"
DEFAULT_GEMINI_MODEL = "gemini-3-pro-preview"

#: spec 3.5: Claude Code's shell default; the others use SessionConfig's (10 s).
ANTHROPIC_SHELL_TIMEOUT_MS = 120_000
OPENAI_CONTEXT_WINDOW = 400_000
ANTHROPIC_CONTEXT_WINDOW = 200_000
GEMINI_CONTEXT_WINDOW = 1_048_576

#: spec 3.5: beta headers the Anthropic profile sends (thinking between tool calls, as Claude Code does).
ANTHROPIC_BETA_HEADERS = ["interleaved-thinking-2025-05-14"]

#: spec 6.5: which instruction files each profile loads (AGENTS.md always).
PROJECT_DOC_FILES: dict[str, tuple[str, ...]] = {
    "openai": ("AGENTS.md", ".codex/instructions.md"),
    "anthropic": ("AGENTS.md", "CLAUDE.md"),
    "gemini": ("AGENTS.md", "GEMINI.md"),
}


@dataclass
class ProviderProfile:
    id: str
    model: str
    tool_registry: ToolRegistry
    base_instructions: str
    supports_reasoning: bool = True
    supports_streaming: bool = True
    supports_parallel_tool_calls: bool = True
    context_window_size: int = 200_000
    #: Shell timeout when a call names none; None means SessionConfig.default_command_timeout_ms.
    default_command_timeout_ms: int | None = None
    knowledge_cutoff: str = "unknown"
    project_doc_files: tuple[str, ...] = ("AGENTS.md",)
    #: Where requests go when it is not the profile's own provider (an OpenAI-compatible server).
    provider: str = ""
    #: Merged into the request's provider_options (e.g. anthropic beta headers).
    extra_provider_options: dict[str, Any] = field(default_factory=dict)

    def tools(self) -> list[ToolDefinition]:
        return self.tool_registry.definitions()

    def provider_options(self) -> dict[str, Any] | None:
        return {self.id: dict(self.extra_provider_options)} if self.extra_provider_options else None

    def build_system_prompt(
        self, environment_context: str, project_docs: str, user_instructions: str = ""
    ) -> str:
        """spec 6.1: base, environment, tools, project docs, user overrides (last wins)."""
        tool_lines = "\n".join(f"- {d.name}: {d.description}" for d in self.tools())
        layers = [self.base_instructions, environment_context, f"# Available tools\n{tool_lines}"]
        if project_docs:
            layers.append(f"# Project instructions\n\n{project_docs}")
        if user_instructions:
            layers.append(f"# User instructions (highest priority)\n\n{user_instructions}")
        return "\n\n".join(layers)

    @property
    def model_display_name(self) -> str:
        info = default_catalog().get(self.model, self.id)
        return f"{info.display_name} ({self.model})" if info and info.display_name else self.model

    def with_model(self, model: str) -> ProviderProfile:
        """The same profile (tools included) for another model of the family; subagents use this."""
        return replace(self, model=model, context_window_size=_context_window(model, self.id,
                                                                              self.context_window_size))


def _context_window(model: str, provider: str, fallback: int) -> int:
    """The model's context window from the LLM catalog, else the profile family's."""
    info = default_catalog().get(model, provider)
    return info.context_window if info and info.context_window else fallback


def _registry(tools: list[RegisteredTool]) -> ToolRegistry:
    return ToolRegistry([*tools, *SUBAGENT_TOOLS])


def create_openai_profile(model: str = DEFAULT_OPENAI_MODEL) -> ProviderProfile:
    tools = [
        READ_FILE,
        APPLY_PATCH,
        WRITE_FILE,
        shell_tool(
            "Runs a shell command (bash -c) in the working directory and returns its output and exit code.",
            10_000,
        ),
        grep_tool(),
        GLOB,
    ]
    return ProviderProfile(
        id="openai",
        model=model,
        tool_registry=_registry(tools),
        base_instructions=base_instructions("openai"),
        context_window_size=_context_window(model, "openai", OPENAI_CONTEXT_WINDOW),
        knowledge_cutoff="2024-09",
        project_doc_files=PROJECT_DOC_FILES["openai"],
    )


def create_anthropic_profile(model: str = DEFAULT_ANTHROPIC_MODEL) -> ProviderProfile:
    tools = [
        READ_FILE,
        WRITE_FILE,
        EDIT_FILE,
        shell_tool(
            "Executes a bash command with an optional timeout and returns stdout, stderr and the "
            "exit code. Use it for terminal operations such as git, tests and builds.",
            ANTHROPIC_SHELL_TIMEOUT_MS,
        ),
        grep_tool(with_output_mode=True),
        GLOB,
    ]
    return ProviderProfile(
        id="anthropic",
        model=model,
        tool_registry=_registry(tools),
        base_instructions=base_instructions("anthropic"),
        context_window_size=_context_window(model, "anthropic", ANTHROPIC_CONTEXT_WINDOW),
        knowledge_cutoff="2025-01",
        default_command_timeout_ms=ANTHROPIC_SHELL_TIMEOUT_MS,
        project_doc_files=PROJECT_DOC_FILES["anthropic"],
        extra_provider_options={"beta_headers": list(ANTHROPIC_BETA_HEADERS)},
    )


def create_gemini_profile(model: str = DEFAULT_GEMINI_MODEL) -> ProviderProfile:
    tools = [
        READ_FILE,
        READ_MANY_FILES,
        WRITE_FILE,
        GEMINI_EDIT_FILE,
        shell_tool(
            "Executes a shell command as `bash -c <command>` and returns stdout, stderr and the exit code.",
            10_000,
        ),
        grep_tool(),
        GLOB,
        LIST_DIR,
    ]
    return ProviderProfile(
        id="gemini",
        model=model,
        tool_registry=_registry(tools),
        base_instructions=base_instructions("gemini"),
        context_window_size=_context_window(model, "gemini", GEMINI_CONTEXT_WINDOW),
        knowledge_cutoff="2025-01",
        project_doc_files=PROJECT_DOC_FILES["gemini"],
    )


PROFILE_FACTORIES = {
    "openai": create_openai_profile,
    "anthropic": create_anthropic_profile,
    "gemini": create_gemini_profile,
}


def create_profile(provider: str, model: str | None = None) -> ProviderProfile:
    """The profile for `provider` ("openai", "anthropic", "gemini") with `model` or its default."""
    try:
        factory = PROFILE_FACTORIES[provider]
    except KeyError:
        raise ValueError(
            f"unknown provider {provider!r}; expected one of {', '.join(PROFILE_FACTORIES)}"
        ) from None
    return factory(model) if model else factory()


#: The profile for providers without one of their own — OpenAI-compatible servers (Ollama, vLLM,
#: llama.cpp): Claude Code-style tools, whose plain search-and-replace edits general models handle best.
COMPAT_PROFILE = "anthropic"


class ConfiguredProviders(Protocol):
    """What `profile_for` needs from `shopfloor.llm.client.Client`."""

    providers: Mapping[str, Any]

    def default_model(self, provider: str | None = None) -> str: ...


def profile_for(client: ConfiguredProviders, provider: str | None = None,
                model: str | None = None) -> ProviderProfile:
    """The profile for `provider` (default: the first configured one, native profiles first).

    An OpenAI-compatible server configured in the client gets the COMPAT_PROFILE tools, its
    requests routed to that server, and the server's configured model unless `model` is given.
    """
    configured = list(client.providers)
    if not provider:
        if not configured:
            from shopfloor.llm.client import PROVIDER_ENV_HELP  # only on this error: keeps httpx off import

            raise ValueError(f"no LLM provider is configured; {PROVIDER_ENV_HELP}")
        native = [name for name in configured if name in PROFILE_FACTORIES]
        provider = native[0] if native else configured[0]
    if provider in PROFILE_FACTORIES:
        return create_profile(provider, model)
    if provider not in configured:
        known = ", ".join([*PROFILE_FACTORIES, *(p for p in configured if p not in PROFILE_FACTORIES)])
        raise ValueError(f"unknown provider {provider!r}; expected one of {known}")
    profile = create_profile(COMPAT_PROFILE, model or client.default_model(provider))
    return replace(profile, provider=provider, extra_provider_options={})
