"""Budget, brake and policy around one agent Session, through the Session's own extension points.

`SessionGovernor.attach(session)` wires in:
- a metered LLM client (every call reserved and settled against the session's
  budget level, which is carved out of its node's and its run's);
- a pre-tool hook: counts the call against the tool-call budget, then lets the
  brake judge it before it runs (destructive commands, protected paths) — a
  finding means the call is refused, with a steering message saying why;
- a post-tool hook: records the content hash of each file the call wrote
  (`govern.file_state`), which the thrash detector reads;
- an event listener: every SessionEvent goes through the brake.

The ladder's rungs act here: a steer becomes `session.steer(message)`; an
escalation either stops the session (the node fails with the brake's reason)
or asks the interviewer whether to go on. A budget that runs out stops the
session cleanly; when it is the run's own budget, the run is stopped through
`stop_requested` too, so it is checkpointed and resumable with a raised budget.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

from shopfloor.agent.events import EventKind, SessionEvent
from shopfloor.agent.hooks import HookDecision, ToolCallInfo, ToolCallResult
from shopfloor.agent.session import Session, SessionState
from shopfloor.govern.brake.config import BrakeConfig
from shopfloor.govern.brake.evidence import file_edits
from shopfloor.govern.brake.ladder import Brake, Intervention
from shopfloor.govern.brake.thrash import content_hash
from shopfloor.govern.budget import Budget, BudgetExceeded
from shopfloor.govern.llm_budget import budget_middleware
from shopfloor.govern.policy import BudgetLimits, Policy
from shopfloor.llm.errors import AbortError
from shopfloor.llm.types import Request, Response, StreamEvent

#: Tools whose file writes the governor hashes after they run.
WRITING_TOOLS = ("write_file", "edit_file", "apply_patch")
#: How many lines of a file the governor reads back to hash it.
DEFAULT_HASH_READ_LINES = 10**9

Emit = Callable[[str, dict[str, Any]], None]
#: Asked on a "pause" escalation: return True to let the agent go on.
AskHuman = Callable[[Intervention], bool]


class MeteredClient:
    """An LLM client whose calls are charged to a budget; a refusal stops the session cleanly."""

    def __init__(self, inner: Any, budget: Budget, on_exceeded: Callable[[BudgetExceeded], None]) -> None:
        self.inner = inner
        self.middleware = budget_middleware(budget)
        self.on_exceeded = on_exceeded

    def __getattr__(self, name: str) -> Any:  # providers, catalog, ... of the wrapped client
        return getattr(self.inner, name)

    def complete(self, request: Request, **kwargs: Any) -> Response:
        try:
            return self.middleware.complete(request, lambda r: self.inner.complete(r, **kwargs))
        except BudgetExceeded as exc:
            self.on_exceeded(exc)
            raise AbortError(str(exc)) from exc

    def stream(self, request: Request, **kwargs: Any) -> Iterator[StreamEvent]:
        try:
            yield from self.middleware.stream(request, lambda r: self.inner.stream(r, **kwargs))
        except BudgetExceeded as exc:
            self.on_exceeded(exc)
            raise AbortError(str(exc)) from exc


class SessionGovernor:
    def __init__(self, policy: Policy, budget: Budget, brake_config: BrakeConfig | None = None, *,
                 emit: Emit | None = None, node_id: str = "", ask_human: AskHuman | None = None,
                 on_run_budget_exhausted: Callable[[BudgetExceeded], None] | None = None,
                 brake: Brake | None = None, subagent_limits: BudgetLimits | None = None) -> None:
        """`brake`: the node's brake, shared by its sessions (retries), else one of our own.
        `subagent_limits`: each subagent's own budget level, carved out of this session's."""
        self.policy = policy
        self.budget = budget
        self.brake_config = brake_config or BrakeConfig()
        self.emit = emit or (lambda kind, data: None)
        self.node_id = node_id
        self.ask_human = ask_human
        self.on_run_budget_exhausted = on_run_budget_exhausted
        self.session: Session | None = None
        self.brake: Brake | None = brake
        #: Why the governor stopped the session (None while it runs).
        self.stop_reason: str | None = None
        self._lock = threading.RLock()
        self._existed: dict[str, bool] = {}
        self.subagent_limits = subagent_limits or BudgetLimits()
        #: session id of each subagent -> its budget level
        self._subagents: dict[str, Budget] = {}

    # -- wiring ----------------------------------------------------------------------------------
    def attach(self, session: Session) -> Session:
        self.session = session
        env = session.env
        if self.brake is None:
            self.brake = Brake(self.policy, self.brake_config, workspace=env.working_directory(),
                               exists=env.file_exists, emit=self._emit_rung, live=True)
        session.client = MeteredClient(session.client, self.budget, self._budget_exceeded)
        session.hooks.pre.insert(0, self.before_tool)
        session.hooks.post.append(self.after_tool)
        session.add_listener(self.on_event)
        return session

    def _emit_rung(self, kind: str, data: dict[str, Any]) -> None:
        self.emit(kind, {**data, "node_id": self.node_id})

    # -- the session's extension points ------------------------------------------------------------
    def before_tool(self, call: ToolCallInfo) -> HookDecision | None:
        try:
            self._subagents.get(call.session_id, self.budget).count_tool_call()
        except BudgetExceeded as exc:
            if call.session_id in self._subagents:
                self._subagent_budget_exceeded(call.session_id, exc)
            else:
                self._budget_exceeded(exc)
            return HookDecision.deny(str(exc))
        assert self.brake is not None
        with self.brake.lock:
            for edit in file_edits(call.tool_name, call.arguments) if call.tool_name in WRITING_TOOLS else []:
                self._existed[edit.path] = self._exists(edit.path)
            found = self.brake.judge_intent(call.call_id, call.tool_name, call.arguments, self.node_id)
        if not found:
            return None
        first = found[0]
        escalate = next((iv for iv in found if iv.escalated), None)
        if escalate is not None:
            self._escalate(escalate)
        return HookDecision.deny(f"{first.detector}: {first.reason}", steer=first.message)

    def after_tool(self, call: ToolCallInfo, result: ToolCallResult) -> None:
        if result.is_error or call.tool_name not in WRITING_TOOLS:
            return
        for edit in file_edits(call.tool_name, call.arguments):
            digest = self._hash(edit.path)
            data = {"path": edit.path, "sha256": digest, "node_id": self.node_id,
                    "existed_before": self._existed.pop(edit.path, False), "call_id": call.call_id}
            self.emit("govern.file_state", data)
            self._observe("file_state", data)

    def on_event(self, event: SessionEvent) -> None:
        parent = self.session
        if event.kind == EventKind.USER_INPUT and parent is not None and event.session_id != parent.id:
            self._meter_subagent(event.session_id)
        self._observe(event.kind.value, {**event.data, "session_id": event.session_id})

    def _meter_subagent(self, session_id: str) -> None:
        """A subagent's first input (in its own thread, before its first LLM call): give it its own level."""
        assert self.session is not None
        with self._lock:
            if session_id in self._subagents:
                return
            for agent_id, handle in list(self.session.subagents.agents.items()):
                child = handle.session
                if child.id == session_id:
                    budget = self.budget.child(f"subagent-{agent_id}", self.subagent_limits)
                    self._subagents[session_id] = budget
                    inner = child.client.inner if isinstance(child.client, MeteredClient) else child.client
                    child.client = MeteredClient(
                        inner, budget, lambda exc, sid=session_id: self._subagent_budget_exceeded(sid, exc))
                    return

    # -- reactions ---------------------------------------------------------------------------------
    def _observe(self, kind: str, data: dict[str, Any]) -> None:
        assert self.brake is not None
        with self.brake.lock:
            found = self.brake.observe(kind, data)
        for iv in found:
            if iv.escalated:
                self._escalate(iv)
            elif self.session is not None:
                self.session.steer(iv.message)

    def _escalate(self, iv: Intervention) -> None:
        if iv.action == "pause" and self.ask_human is not None and self.ask_human(iv):
            self.emit("govern.brake_resumed", {"detector": iv.detector, "node_id": self.node_id})
            return
        self.stop(f"brake: {iv.detector}: {iv.reason}")

    def _emit_budget_exceeded(self, exc: BudgetExceeded) -> None:
        self.emit("govern.budget_exceeded", {"level": exc.level, "resource": exc.resource,
                                             "limit": exc.limit, "spent": exc.spent,
                                             "reason": str(exc), "node_id": self.node_id})

    def _budget_exceeded(self, exc: BudgetExceeded) -> None:
        self._emit_budget_exceeded(exc)
        if exc.level == self.budget.root.path and self.on_run_budget_exhausted is not None:
            self.on_run_budget_exhausted(exc)
        self.stop(str(exc))

    def _subagent_budget_exceeded(self, session_id: str, exc: BudgetExceeded) -> None:
        """A subagent hit a limit: it stops; its parent stops too when the limit was the run's or the
        parent's own (the parent's next call would be refused anyway)."""
        if exc.level.startswith(self.budget.path + "/"):  # the subagent's own level
            self._emit_budget_exceeded(exc)
            assert self.session is not None
            for handle in list(self.session.subagents.agents.values()):
                if handle.session.id == session_id and handle.session.state == SessionState.PROCESSING:
                    handle.session.abort(str(exc))
            return
        self._budget_exceeded(exc)

    def stop(self, reason: str) -> None:
        """Stop the session: the in-flight LLM call is cancelled and running commands are killed."""
        with self._lock:
            if self.stop_reason is not None:
                return
            self.stop_reason = reason
        # Only a processing session is aborted from here: an idle one would emit SESSION_END from
        # inside our own listener. An idle session has nothing running; its host reads stop_reason.
        if self.session is not None and self.session.state == SessionState.PROCESSING:
            self.session.abort(reason)

    # -- workspace access ----------------------------------------------------------------------------
    def _exists(self, path: str) -> bool:
        assert self.session is not None
        try:
            return self.session.env.file_exists(path)
        except (OSError, ValueError):
            return False

    def _hash(self, path: str) -> str | None:
        assert self.session is not None
        try:
            return content_hash(self.session.env.read_file(path, 1, DEFAULT_HASH_READ_LINES))
        except (OSError, ValueError):
            return None
