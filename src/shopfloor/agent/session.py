"""The Session: the agentic loop of coding-agent-loop-spec section 2.

    session = Session(create_anthropic_profile(), LocalExecutionEnvironment(workdir), client)
    result = session.submit("Create hello.py that prints Hello")

`submit()` runs LLM call → tool execution → repeat until the model answers with
text only, a limit is hit or `abort()` is called. Between tool rounds it injects
steering messages (`steer()`); after the input completes it runs queued
follow-ups (`follow_up()`). Every step is a SessionEvent, to listeners given at
construction (they see SESSION_START) and to `events()` iterators.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from shopfloor.agent.config import SessionConfig
from shopfloor.agent.context import discover_project_docs, environment_block, snapshot_git
from shopfloor.agent.events import EventEmitter, EventKind, EventListener, SessionEvent
from shopfloor.agent.hooks import ToolCallInfo, ToolCallResult, ToolHooks
from shopfloor.agent.loop_detection import call_signature, detect_loop
from shopfloor.agent.profiles import ProviderProfile
from shopfloor.agent.registry import InvalidArguments, ToolOutput
from shopfloor.agent.subagents import SubAgentManager
from shopfloor.agent.truncation import truncate_tool_output
from shopfloor.agent.turns import (
    AssistantTurn,
    SteeringTurn,
    ToolResultsTurn,
    Turn,
    UserTurn,
    history_chars,
    history_to_messages,
)
from shopfloor.llm.abort import AbortController
from shopfloor.llm.errors import AbortError, ContextLengthError, SDKError
from shopfloor.llm.retry import RetryPolicy, retry
from shopfloor.llm.types import (
    Message,
    Request,
    Response,
    StreamEvent,
    StreamEventType,
    ToolCall,
    ToolChoice,
    ToolResult,
)
from shopfloor.sandbox.environment import ExecutionEnvironment

#: Parallel tool calls of one round run on at most this many threads.
DEFAULT_MAX_PARALLEL_TOOLS = 8
#: spec 5.5: the rough characters-per-token ratio for context-usage warnings.
CHARS_PER_TOKEN = 4

LOOP_WARNING = "Loop detected: the last {n} tool calls follow a repeating pattern. Try a different approach."


class SessionState(StrEnum):
    IDLE = "idle"
    PROCESSING = "processing"
    AWAITING_INPUT = "awaiting_input"
    CLOSED = "closed"


class LLMClient(Protocol):
    """What the loop needs from `shopfloor.llm.client.Client` (spec 1.6)."""

    def complete(self, request: Request, **kwargs: Any) -> Response: ...

    def stream(self, request: Request, **kwargs: Any) -> Iterator[StreamEvent]: ...


class SessionClosedError(RuntimeError):
    """submit() on a session that was closed or aborted."""


class SessionBusyError(RuntimeError):
    """submit() while another submit() of the same session is still running."""


@dataclass
class SessionResult:
    """How one submit() ended: completed, awaiting_input, turn_limit, aborted or error."""

    status: str
    text: str
    turns: int
    tool_rounds: int
    session_id: str
    error: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "text": self.text,
            "final_text": self.text,
            "turns": self.turns,
            "tool_rounds": self.tool_rounds,
            "session_id": self.session_id,
            "error": self.error,
            "usage": self.usage,
        }


class Session:
    def __init__(
        self,
        profile: ProviderProfile,
        env: ExecutionEnvironment,
        client: LLMClient,
        config: SessionConfig | None = None,
        *,
        hooks: ToolHooks | None = None,
        depth: int = 0,
        listeners: Iterable[EventListener] = (),
        session_id: str | None = None,
    ) -> None:
        self.id = session_id or uuid.uuid4().hex
        self.profile = profile
        self.env = env
        self.client = client
        self.config = config or SessionConfig()
        self.hooks = hooks or ToolHooks()
        self.depth = depth
        self.history: list[Turn] = []
        self.state = SessionState.IDLE
        self.emitter = EventEmitter(self.id)
        for listener in listeners:
            self.emitter.add_listener(listener)
        self.steering_queue: deque[str] = deque()
        self.followup_queue: deque[str] = deque()
        self.subagents = SubAgentManager(self)
        self._abort = AbortController()
        self._signatures: list[str] = []
        self._lock = threading.Lock()
        self._environment_context: str | None = None
        #: The git repository the session works in (None outside one); known after system_prompt().
        self.git_root: str | None = None
        self._project_docs = ""
        self._context_warned = False
        #: Images returned by tools in the current round, by call id (see ToolOutput).
        self._tool_images: dict[str, tuple[bytes, str]] = {}
        self.emitter.emit(
            EventKind.SESSION_START,
            profile=profile.id,
            model=profile.model,
            working_directory=env.working_directory(),
            depth=depth,
        )

    # -- host API ------------------------------------------------------------------------------

    def add_listener(self, listener: EventListener) -> None:
        self.emitter.add_listener(listener)

    def events(self) -> Iterator[SessionEvent]:
        """Events from now until the session closes (consume from another thread while submit runs)."""
        return self.emitter.subscribe()

    async def aevents(self) -> AsyncIterator[SessionEvent]:
        """The same stream as `events()`, as an async iterator (spec 2.9) for asyncio hosts."""
        iterator = self.events()
        while (event := await asyncio.to_thread(next, iterator, None)) is not None:
            yield event

    def steer(self, message: str) -> None:
        """Inject `message` after the current tool round (or before the next LLM call when idle)."""
        with self._lock:
            self.steering_queue.append(message)

    def follow_up(self, message: str) -> None:
        """Process `message` as a new input once the current one completes."""
        with self._lock:
            self.followup_queue.append(message)

    @property
    def aborted(self) -> bool:
        return self._abort.signal.aborted

    def abort(self, reason: str = "aborted by host") -> None:
        """Stop the loop: cancel the in-flight LLM call, kill running commands, then close."""
        self._abort.abort(reason)
        if self.depth == 0:  # the root session's commands; children share the env and stop with it
            self.env.cleanup()
        if self.state != SessionState.PROCESSING:
            self._shutdown(reason)

    def close(self) -> None:
        if self.state == SessionState.PROCESSING:
            self.abort("closed while processing")
        else:
            self._shutdown("closed")

    def turn_count(self) -> int:
        return sum(isinstance(t, AssistantTurn) for t in self.history)

    def forward_child_event(self, event: SessionEvent) -> None:
        """Subagent events join this session's stream (with the child's session_id)."""
        self.emitter.deliver(event)

    def submit(self, user_input: str) -> SessionResult:
        """Run the agentic loop on `user_input`, then on queued follow-ups; return how it ended."""
        with self._lock:
            if self.state == SessionState.CLOSED:
                raise SessionClosedError(f"session {self.id} is closed")
            if self.state == SessionState.PROCESSING:
                raise SessionBusyError(f"session {self.id} is already processing an input; use steer() or "
                                       "follow_up() to add to it")
            self.state = SessionState.PROCESSING
        result = self._process_input(user_input)
        while result.status in ("completed", "awaiting_input", "turn_limit") and self.followup_queue:
            with self._lock:
                next_input = self.followup_queue.popleft()
            result = self._process_input(next_input)
        return result

    process_input = submit

    # -- the loop ------------------------------------------------------------------------------

    def _process_input(self, user_input: str) -> SessionResult:
        self.state = SessionState.PROCESSING
        self.history.append(UserTurn(user_input))
        self.emitter.emit(EventKind.USER_INPUT, content=user_input)
        self._drain_steering()
        rounds = 0
        turns_before = self.turn_count()
        status, text = "completed", ""
        try:
            while True:
                if self.aborted:
                    status = "aborted"
                    break
                if 0 < self.config.max_tool_rounds_per_input <= rounds:
                    self.emitter.emit(EventKind.TURN_LIMIT, round=rounds, limit="max_tool_rounds_per_input")
                    status = "turn_limit"
                    break
                if 0 < self.config.max_turns <= self.turn_count():
                    self.emitter.emit(EventKind.TURN_LIMIT, total_turns=self.turn_count(), limit="max_turns")
                    status = "turn_limit"
                    break
                response = self._call_llm()
                if response is None:  # aborted mid-call
                    status = "aborted"
                    break
                turn = AssistantTurn(
                    content=response.text,
                    tool_calls=response.tool_calls,
                    reasoning=response.reasoning,
                    usage=response.usage,
                    response_id=response.id or None,
                    message=response.message,
                )
                self.history.append(turn)
                text = response.text
                self.emitter.emit(
                    EventKind.ASSISTANT_TEXT_END,
                    text=response.text,
                    reasoning=response.reasoning,
                    tool_calls=len(response.tool_calls),
                    usage=response.usage.model_dump(mode="json"),
                    model=response.model,
                    response_id=response.id,
                )
                self._check_context_usage()
                if not response.tool_calls:
                    if self.steering_queue:  # steered while the model was answering: let it see that
                        self._drain_steering()
                        continue
                    status = "awaiting_input" if response.text.rstrip().endswith("?") else "completed"
                    break
                rounds += 1
                results = self._execute_tool_calls(response.tool_calls)
                ids = {c.id for c in response.tool_calls}
                images = {k: self._tool_images.pop(k) for k in list(self._tool_images) if k in ids}
                names = [c.name for c in response.tool_calls]
                self.history.append(ToolResultsTurn(results=results, names=names, images=images))
                self._drain_steering()
                if self.config.enable_loop_detection:
                    self._signatures.extend(call_signature(c.name, c.arguments) for c in response.tool_calls)
                    if detect_loop(self._signatures, self.config.loop_detection_window):
                        warning = LOOP_WARNING.format(n=self.config.loop_detection_window)
                        self.history.append(SteeringTurn(warning))
                        self.emitter.emit(EventKind.LOOP_DETECTION, message=warning)
                        self._signatures.clear()
        except ContextLengthError as exc:
            self.emitter.emit(
                EventKind.WARNING, message=f"context window exceeded: {exc}", code="context_length"
            )
            status = "error"
            return self._finish(status, text, rounds, turns_before, str(exc))
        except AbortError:
            status = "aborted"
        except Exception as exc:
            # Retryable LLM errors were already retried; what reaches here (authentication, an unknown
            # model, a bug) is unrecoverable: report it, close the session, and surface it to the host.
            self.emitter.emit(EventKind.ERROR, message=str(exc), error_type=type(exc).__name__)
            self._shutdown(f"error: {type(exc).__name__}")
            raise
        if status == "aborted":
            result = self._finish(status, text, rounds, turns_before, self._abort.signal.reason)
            self._shutdown(self._abort.signal.reason)
            return result
        return self._finish(status, text, rounds, turns_before, None)

    def _finish(
        self, status: str, text: str, rounds: int, turns_before: int, error: str | None
    ) -> SessionResult:
        if self.state == SessionState.PROCESSING:
            self.state = SessionState.AWAITING_INPUT if status == "awaiting_input" else SessionState.IDLE
        usage = None
        for turn in self.history:
            if isinstance(turn, AssistantTurn):
                usage = turn.usage if usage is None else usage + turn.usage
        self.emitter.emit(
            EventKind.PROCESSING_END,
            status=status,
            turns=self.turn_count() - turns_before,
            tool_rounds=rounds,
        )
        return SessionResult(
            status=status,
            text=text,
            turns=self.turn_count() - turns_before,
            tool_rounds=rounds,
            session_id=self.id,
            error=error,
            usage=usage.model_dump(mode="json", exclude={"raw"}) if usage else {},
        )

    def _shutdown(self, reason: str) -> None:
        """Appendix B: close children, then SESSION_END, then CLOSED (once)."""
        with self._lock:
            if self.state == SessionState.CLOSED:
                return
            self.state = SessionState.CLOSED
        self.subagents.close_all()
        self.emitter.emit(
            EventKind.SESSION_END, state=SessionState.CLOSED.value, reason=reason, turns=self.turn_count()
        )
        self.emitter.close()

    def _drain_steering(self) -> None:
        while True:
            with self._lock:
                if not self.steering_queue:
                    return
                message = self.steering_queue.popleft()
            self.history.append(SteeringTurn(message))
            self.emitter.emit(EventKind.STEERING_INJECTED, content=message)

    # -- LLM -----------------------------------------------------------------------------------

    def system_prompt(self) -> str:
        if self._environment_context is None:  # spec 6.3/6.4: a snapshot taken once, at the first call
            git = snapshot_git(self.env)
            self.git_root = git.root if git else None
            self._environment_context = environment_block(
                self.env, git, self.profile.model_display_name, self.profile.knowledge_cutoff
            )
            self._project_docs = discover_project_docs(
                self.env,
                self.profile.project_doc_files,
                git.root if git else None,
                self.config.project_docs_budget_bytes,
            )
        return self.profile.build_system_prompt(
            self._environment_context, self._project_docs, self.config.user_instructions
        )

    def build_request(self) -> Request:
        return Request(
            model=self.profile.model,
            messages=[Message.system(self.system_prompt()), *history_to_messages(self.history)],
            tools=self.profile.tools(),
            tool_choice=ToolChoice(mode="auto"),
            reasoning_effort=self.config.reasoning_effort,
            provider=self.profile.provider or self.profile.id,
            provider_options=self.profile.provider_options(),
        )

    def _call_llm(self) -> Response | None:
        """One LLM call; transient errors (429, 5xx, network) are retried with backoff (spec 9.11)."""
        request = self.build_request()

        def on_retry(error: SDKError, attempt: int, delay: float) -> None:
            self.emitter.emit(
                EventKind.WARNING,
                code="llm_retry",
                attempt=attempt + 1,
                delay_s=round(delay, 3),
                message=f"LLM call failed ({type(error).__name__}: {error}); retrying",
            )

        policy = RetryPolicy(
            max_retries=self.config.max_llm_retries,
            base_delay=self.config.llm_retry_base_delay_s,
            on_retry=on_retry,
        )
        return retry(lambda: self._call_llm_once(request), policy, abort_signal=self._abort.signal)

    def _call_llm_once(self, request: Request) -> Response | None:
        signal = self._abort.signal
        if not self.profile.supports_streaming:
            response = self.client.complete(request, abort_signal=signal)
            if response.text:
                self.emitter.emit(EventKind.ASSISTANT_TEXT_START)
            return None if self.aborted else response
        final: Response | None = None
        started = False
        for event in self.client.stream(request, abort_signal=signal):
            if self.aborted:
                return None
            if event.type == StreamEventType.TEXT_START or (
                event.type == StreamEventType.TEXT_DELTA and not started
            ):
                if not started:
                    self.emitter.emit(EventKind.ASSISTANT_TEXT_START, text_id=event.text_id)
                started = True
            if event.type == StreamEventType.TEXT_DELTA and event.delta:
                self.emitter.emit(EventKind.ASSISTANT_TEXT_DELTA, delta=event.delta, text_id=event.text_id)
            elif event.type == StreamEventType.FINISH:
                final = event.response
            elif event.type == StreamEventType.ERROR and event.error is not None:
                raise event.error
        if final is None:
            raise SDKError("the stream ended without a FINISH event")
        return final

    def _check_context_usage(self) -> None:
        approx_tokens = history_chars(self.history) / CHARS_PER_TOKEN
        window = self.profile.context_window_size
        if approx_tokens > window * self.config.context_warning_ratio and not self._context_warned:
            self._context_warned = True
            self.emitter.emit(
                EventKind.WARNING,
                code="context_usage",
                message=f"Context usage at ~{round(approx_tokens / window * 100)}% of context window",
            )

    # -- tools ---------------------------------------------------------------------------------

    def _execute_tool_calls(self, calls: list[ToolCall]) -> list[ToolResult]:
        if self.profile.supports_parallel_tool_calls and len(calls) > 1:
            with ThreadPoolExecutor(max_workers=min(len(calls), DEFAULT_MAX_PARALLEL_TOOLS)) as pool:
                return list(pool.map(self._execute_one, calls))
        return [self._execute_one(call) for call in calls]

    def _execute_one(self, call: ToolCall) -> ToolResult:
        self.emitter.emit(
            EventKind.TOOL_CALL_START, tool_name=call.name, call_id=call.id, arguments=call.arguments
        )
        started = time.monotonic()
        registered = self.profile.tool_registry.get(call.name)
        if registered is None:
            return self._tool_error(
                call,
                f"Unknown tool: {call.name}. Available tools: "
                + ", ".join(self.profile.tool_registry.names()),
            )
        try:
            raw = (
                call.raw_arguments
                if call.raw_arguments is not None and not call.arguments
                else call.arguments
            )
            arguments = self.profile.tool_registry.validate_arguments(call.name, raw)
        except InvalidArguments as exc:
            return self._tool_error(call, str(exc))
        info = ToolCallInfo(self.id, call.id, call.name, arguments, self.env.working_directory(), self.depth)
        decision = self.hooks.before(info)
        if decision.steer:
            self.steer(decision.steer)
        if not decision.allow:
            return self._tool_error(call, f"Tool call blocked: {decision.reason}", info, started)
        try:
            if registered.wants_session:
                output = registered.executor(arguments, self.env, session=self)
            else:
                output = registered.executor(arguments, self.env)
            raw_output = self._collect_output(call, output)
        except Exception as exc:  # a tool failure is a result the model can recover from
            return self._tool_error(call, f"Tool error ({call.name}): {exc}", info, started)
        truncated = truncate_tool_output(
            raw_output, call.name, self.config.tool_output_limits, self.config.tool_line_limits
        )
        duration_ms = int((time.monotonic() - started) * 1000)
        self.emitter.emit(
            EventKind.TOOL_CALL_END,
            tool_name=call.name,
            call_id=call.id,
            output=raw_output,
            truncated=truncated != raw_output,
            duration_ms=duration_ms,
        )
        self.hooks.after(info, ToolCallResult(raw_output, False, duration_ms))
        return ToolResult(tool_call_id=call.id, content=truncated, is_error=False)

    def _collect_output(self, call: ToolCall, output: Any) -> str:
        """A str is the whole output; an iterator of str is a streaming tool, each chunk an output delta;
        a ToolOutput may carry an image for the model as well."""
        if isinstance(output, str):
            return output
        if isinstance(output, ToolOutput):
            if output.image_data is not None:
                self._tool_images[call.id] = (output.image_data, output.image_media_type or "image/png")
            return output.text
        if isinstance(output, Iterator):
            chunks: list[str] = []
            for chunk in output:
                chunks.append(chunk)
                self.emitter.emit(EventKind.TOOL_CALL_OUTPUT_DELTA, tool_name=call.name, call_id=call.id,
                                  delta=chunk)
            return "".join(chunks)
        return str(output)

    def dispatch_tool(self, name: str, arguments: Any, call_id: str | None = None) -> ToolResult:
        """Run one tool call through the registry outside the loop (hosts, conformance, tests)."""
        raw = arguments if isinstance(arguments, str) else None
        call = ToolCall(id=call_id or f"call_{uuid.uuid4().hex[:12]}", name=name,
                        arguments=arguments if isinstance(arguments, dict) else {}, raw_arguments=raw)
        return self._execute_one(call)

    def _tool_error(
        self, call: ToolCall, message: str, info: ToolCallInfo | None = None, started: float | None = None
    ) -> ToolResult:
        duration_ms = int((time.monotonic() - started) * 1000) if started is not None else 0
        self.emitter.emit(
            EventKind.TOOL_CALL_END,
            tool_name=call.name,
            call_id=call.id,
            error=message,
            duration_ms=duration_ms,
        )
        if info is not None:
            self.hooks.after(info, ToolCallResult(message, True, duration_ms))
        return ToolResult(tool_call_id=call.id, content=message, is_error=True)
