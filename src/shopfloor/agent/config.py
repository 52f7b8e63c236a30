"""SessionConfig (coding-agent-loop-spec 2.2): every limit of a session, with named defaults.

Changing a field between two turns (e.g. `session.config.reasoning_effort = "low"`)
takes effect on the next LLM call.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt, field_validator

#: 0 means unlimited, for both turn limits.
DEFAULT_MAX_TURNS = 0
DEFAULT_MAX_TOOL_ROUNDS_PER_INPUT = 0
#: spec 5.4: 10 s when a shell call names no timeout (codex-rs); 10 min at most.
DEFAULT_COMMAND_TIMEOUT_MS = 10_000
DEFAULT_MAX_COMMAND_TIMEOUT_MS = 600_000
DEFAULT_LOOP_DETECTION_WINDOW = 10
DEFAULT_MAX_SUBAGENT_DEPTH = 1
#: spec 5.5: warn when the history's ~tokens (chars / 4) pass this share of the context window.
DEFAULT_CONTEXT_WARNING_RATIO = 0.8
#: spec 6.5: budget for project instruction files (AGENTS.md, CLAUDE.md, ...).
DEFAULT_PROJECT_DOCS_BUDGET_BYTES = 32 * 1024

#: spec 9.11: transient LLM errors (429, 5xx, network) are retried this many times, backing off from
#: this many seconds (doubling, with jitter; a provider's Retry-After wins).
DEFAULT_MAX_LLM_RETRIES = 2
DEFAULT_LLM_RETRY_BASE_DELAY_S = 1.0

REASONING_EFFORTS = ("low", "medium", "high", "xhigh", "minimal", "none")


class SessionConfig(BaseModel):
    model_config = ConfigDict(validate_assignment=True, extra="forbid")

    max_turns: int = Field(DEFAULT_MAX_TURNS, ge=0)
    max_tool_rounds_per_input: int = Field(DEFAULT_MAX_TOOL_ROUNDS_PER_INPUT, ge=0)
    default_command_timeout_ms: int = Field(DEFAULT_COMMAND_TIMEOUT_MS, gt=0)
    max_command_timeout_ms: int = Field(DEFAULT_MAX_COMMAND_TIMEOUT_MS, gt=0)
    reasoning_effort: str | None = None
    #: Per-tool character limits (positive); see shopfloor.agent.truncation for the defaults.
    tool_output_limits: dict[str, PositiveInt] = Field(default_factory=dict)
    #: Per-tool line limits; None or 0 turns line truncation off for that tool.
    tool_line_limits: dict[str, NonNegativeInt | None] = Field(default_factory=dict)
    enable_loop_detection: bool = True
    loop_detection_window: int = Field(DEFAULT_LOOP_DETECTION_WINDOW, ge=1)
    max_subagent_depth: int = Field(DEFAULT_MAX_SUBAGENT_DEPTH, ge=0)
    context_warning_ratio: float = Field(DEFAULT_CONTEXT_WARNING_RATIO, gt=0)
    project_docs_budget_bytes: int = Field(DEFAULT_PROJECT_DOCS_BUDGET_BYTES, ge=0)
    max_llm_retries: int = Field(DEFAULT_MAX_LLM_RETRIES, ge=0)
    llm_retry_base_delay_s: float = Field(DEFAULT_LLM_RETRY_BASE_DELAY_S, ge=0)
    #: spec 6.1 layer 5: appended last to the system prompt, highest priority.
    user_instructions: str = ""

    @field_validator("reasoning_effort")
    @classmethod
    def _known_effort(cls, value: str | None) -> str | None:
        if value is not None and value not in REASONING_EFFORTS:
            raise ValueError(f"reasoning_effort must be one of {', '.join(REASONING_EFFORTS)} or None")
        return value

    def command_timeout_ms(self, requested: int | None, profile_default: int | None = None) -> int:
        """The timeout for one shell call: the call's own, else the profile's, else the config's; capped."""
        chosen = (
            requested if requested and requested > 0 else (profile_default or self.default_command_timeout_ms)
        )
        return min(chosen, self.max_command_timeout_ms)
