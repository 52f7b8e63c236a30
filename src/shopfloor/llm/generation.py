"""Layer 4, non-streaming (spec 4.3 / 5.6): `generate()` with the multi-step tool loop.

Each LLM call is retried on its own (RetryPolicy); tools of one step run
concurrently (llm.tools); `timeout` bounds the whole operation (`total`) and
each call (`per_step`); `abort_signal` cancels in-flight calls and the waits
between retries.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypedDict, Unpack

from shopfloor.llm.abort import AbortSignal
from shopfloor.llm.client import Client, get_default_client
from shopfloor.llm.errors import ConfigurationError, RequestTimeoutError
from shopfloor.llm.retry import DEFAULT_MAX_RETRIES, RetryPolicy, retry
from shopfloor.llm.tools import RepairFn, execute_all
from shopfloor.llm.types import (
    FinishReason,
    Message,
    Request,
    Response,
    ResponseFormat,
    TimeoutConfig,
    Tool,
    ToolCall,
    ToolChoice,
    ToolResult,
    Usage,
    Warning,
)

# Tool rounds generate() runs automatically unless told otherwise (spec: 1 is the safe default).
DEFAULT_MAX_TOOL_ROUNDS = 1


@dataclass
class StepResult:
    text: str
    reasoning: str | None
    tool_calls: list[ToolCall]
    tool_results: list[ToolResult]
    finish_reason: FinishReason
    usage: Usage
    response: Response
    warnings: list[Warning] = field(default_factory=list)

    @classmethod
    def of(cls, response: Response, results: list[ToolResult]) -> StepResult:
        return cls(
            text=response.text,
            reasoning=response.reasoning,
            tool_calls=response.tool_calls,
            tool_results=results,
            finish_reason=response.finish_reason,
            usage=response.usage,
            response=response,
            warnings=list(response.warnings),
        )


@dataclass
class GenerateResult:
    text: str
    reasoning: str | None
    tool_calls: list[ToolCall]
    tool_results: list[ToolResult]
    finish_reason: FinishReason
    usage: Usage
    total_usage: Usage
    steps: list[StepResult]
    response: Response
    output: Any | None = None

    @classmethod
    def of(cls, steps: list[StepResult]) -> GenerateResult:
        last = steps[-1]
        total = Usage()
        for step in steps:
            total = total + step.usage
        return cls(
            text=last.text,
            reasoning=last.reasoning,
            tool_calls=last.tool_calls,
            tool_results=last.tool_results,
            finish_reason=last.finish_reason,
            usage=last.usage,
            total_usage=total,
            steps=steps,
            response=last.response,
        )

    @property
    def cost_usd(self) -> float:
        return self.total_usage.cost_usd or 0.0


StopCondition = Callable[[list[StepResult]], bool]


class GenerateOptions(TypedDict, total=False):
    """The keyword arguments generate() and stream() share; CallPlan holds their defaults."""

    messages: list[Message] | None
    system: str | None
    tools: list[Tool] | None
    tool_choice: ToolChoice | str | None
    max_tool_rounds: int
    stop_when: StopCondition | None
    response_format: ResponseFormat | None
    temperature: float | None
    top_p: float | None
    max_tokens: int | None
    stop_sequences: list[str] | None
    reasoning_effort: str | None
    provider: str | None
    provider_options: dict[str, Any] | None
    metadata: dict[str, str] | None
    max_retries: int
    retry_policy: RetryPolicy | None
    timeout: float | TimeoutConfig | None
    abort_signal: AbortSignal | None
    client: Client | None
    repair_tool_call: RepairFn | None


class CallPlan:
    """What generate() and stream() share: the client, the request template, deadlines, retries,
    and the tool loop's bookkeeping (steps taken, when to stop)."""

    def __init__(
        self,
        model: str | None = None,
        prompt: str | list[Any] | None = None,
        *,
        messages: list[Message] | None = None,
        system: str | None = None,
        tools: list[Tool] | None = None,
        tool_choice: ToolChoice | str | None = None,
        max_tool_rounds: int = DEFAULT_MAX_TOOL_ROUNDS,
        stop_when: StopCondition | None = None,
        response_format: ResponseFormat | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        max_tokens: int | None = None,
        stop_sequences: list[str] | None = None,
        reasoning_effort: str | None = None,
        provider: str | None = None,
        provider_options: dict[str, Any] | None = None,
        metadata: dict[str, str] | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        retry_policy: RetryPolicy | None = None,
        timeout: float | TimeoutConfig | None = None,
        abort_signal: AbortSignal | None = None,
        client: Client | None = None,
        repair_tool_call: RepairFn | None = None,
    ) -> None:
        if prompt is not None and messages is not None:
            raise ConfigurationError("pass either prompt or messages, not both")
        if prompt is None and messages is None:
            raise ConfigurationError("pass a prompt or messages")
        self.client = client or get_default_client()
        self.conversation: list[Message] = [Message.system(system)] if system else []
        self.conversation += [Message.user(prompt)] if prompt is not None else list(messages or [])
        self.tools = list(tools or [])
        if isinstance(tool_choice, str):
            tool_choice = ToolChoice(mode=tool_choice)
        self.template = Request(
            model=model or self.client.default_model(provider),
            messages=[],
            provider=provider,
            tools=[t.definition() for t in self.tools] or None,
            tool_choice=tool_choice,
            response_format=response_format,
            temperature=temperature,
            top_p=top_p,
            max_tokens=max_tokens,
            stop_sequences=stop_sequences,
            reasoning_effort=reasoning_effort,
            metadata=metadata,
            provider_options=provider_options,
        )
        self.policy = retry_policy or RetryPolicy(max_retries=max_retries)
        config = (
            TimeoutConfig(total=timeout) if isinstance(timeout, int | float) else timeout or TimeoutConfig()
        )
        total, self.per_step = config.total, config.per_step
        self.deadline = time.monotonic() + total if total is not None else None
        self.abort_signal = abort_signal
        self.max_tool_rounds = max_tool_rounds
        self.stop_when = stop_when
        self.repair = repair_tool_call
        self.steps: list[StepResult] = []

    def request(self) -> Request:
        return self.template.model_copy(update={"messages": list(self.conversation)})

    def step_timeout(self) -> float | None:
        """Seconds the next call may take: per-step limit, cut to what is left of the total."""
        if self.deadline is None:
            return self.per_step
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise RequestTimeoutError("the operation ran past its total timeout")
        return min(left, self.per_step) if self.per_step is not None else left

    def wants_tools(self, response: Response) -> bool:
        """Whether the model asked for tools that this loop can run (all active)."""
        by_name = {t.name: t for t in self.tools}
        calls = response.tool_calls
        return (
            bool(calls)
            and response.finish_reason.reason == "tool_calls"
            and all(by_name.get(c.name) is None or by_name[c.name].execute is not None for c in calls)
        )

    def take_step(self, response: Response) -> bool:
        """Record the model's answer as a step, running its tools while rounds are left.

        True when the loop goes on: the tool results are then in the conversation for the next call.
        """
        run = self.wants_tools(response) and len(self.steps) < self.max_tool_rounds
        results = (
            execute_all(
                self.tools,
                response.tool_calls,
                messages=self.conversation,
                abort_signal=self.abort_signal,
                repair=self.repair,
            )
            if run
            else []
        )
        self.steps.append(StepResult.of(response, results))
        if not run or (self.stop_when is not None and self.stop_when(self.steps)):
            return False
        self.conversation.append(response.message)
        for result in results:
            self.conversation.append(
                Message.tool_result(result.tool_call_id, result.content, result.is_error)
            )
        return True


def generate(
    model: str | None = None, prompt: str | None = None, **options: Unpack[GenerateOptions]
) -> GenerateResult:
    """Generate a reply, running active tools for up to `max_tool_rounds` rounds."""
    plan = CallPlan(model, prompt, **options)
    for _ in range(plan.max_tool_rounds + 1):
        request = plan.request()
        response = retry(
            lambda req=request: plan.client.complete(
                req, timeout=plan.step_timeout(), abort_signal=plan.abort_signal
            ),
            plan.policy,
            abort_signal=plan.abort_signal,
        )
        if not plan.take_step(response):
            break
    return GenerateResult.of(plan.steps)
