"""The simulate CodergenBackend: deterministic, offline codergen work whose outcome a pipeline scripts.

Node attributes (all optional):

- `sim.outcomes="fail,fail,success"`: the outcome of the node's 1st, 2nd, … execution
  (retries and later visits both count); the last entry repeats.
- `sim.fail_attempts=N`: shorthand, the first N executions fail.
- `sim.outcome=partial_success`: the outcome of every other execution (default success).
- `sim.response="…"`: the response text (default names the stage and echoes the prompt's last line).
- `sim.preferred_label="Fix"`, `sim.suggested_next="a,b"`: routing hints in the outcome.
- `sim.set="tests_passed=true,score=3"`: context updates.
- `sim.delay=250ms`: simulated work time (a stop request cuts it short).

The execution count comes from the engine (`internal.transient.attempt`, backed
by the checkpoint's `node_attempts`), so a resumed run scripts the same outcomes.
"""

from __future__ import annotations

import time
from typing import Any

from shopfloor.pipeline.context import Context
from shopfloor.pipeline.executor import ATTEMPT_KEY, RunStopped
from shopfloor.pipeline.graph import Node
from shopfloor.pipeline.handlers.codergen import DEFAULT_LAST_RESPONSE_CHARS
from shopfloor.pipeline.node_attrs import as_int, as_seconds
from shopfloor.pipeline.outcome import Outcome, StageStatus
from shopfloor.pipeline.scope import RunScope


def _split(value: Any) -> list[str]:
    return [part.strip() for part in str(value or "").split(",") if part.strip()]


def _status(text: str, node: Node) -> StageStatus:
    try:
        return StageStatus(text.strip().lower())
    except ValueError:
        raise ValueError(f"node {node.id}: unknown simulated outcome {text!r} "
                         f"(use one of {', '.join(s.value for s in StageStatus)})") from None


class SimulateBackend:
    def __init__(self, scope: RunScope | None = None) -> None:
        self.scope = scope

    def run(self, node: Node, prompt: str, context: Context) -> str | Outcome:
        call = as_int(context.get(ATTEMPT_KEY), 1)
        delay = as_seconds(node.get("sim.delay"))
        if delay and self.scope is None:
            time.sleep(delay)
        elif delay and self.scope is not None and self.scope.stop_requested.wait(delay):
            raise RunStopped(node.id)
        status = self._scripted_status(node, call)
        last_line = prompt.strip().splitlines()[-1] if prompt.strip() else ""
        response = node.str_attr("sim.response") or f"[Simulated] Response for stage: {node.id}\n{last_line}"
        updates: dict[str, Any] = {"last_stage": node.id,
                                   "last_response": response[:DEFAULT_LAST_RESPONSE_CHARS]}
        for pair in _split(node.get("sim.set")):
            key, sep, value = pair.partition("=")
            if not sep or not key.strip():
                raise ValueError(f"node {node.id}: sim.set entry {pair!r} must look like key=value")
            updates[key.strip()] = value.strip()
        scripted = (node.get("sim.preferred_label") or node.get("sim.suggested_next") or node.get("sim.set"))
        if status == StageStatus.SUCCESS and not scripted:
            return response
        reason = f"simulated {status.value} (execution {call})" if not status.is_success else ""
        return Outcome(status, preferred_label=node.str_attr("sim.preferred_label"),
                       suggested_next_ids=_split(node.get("sim.suggested_next")), context_updates=updates,
                       notes=response, failure_reason=reason)

    def _scripted_status(self, node: Node, call: int) -> StageStatus:
        outcomes = _split(node.get("sim.outcomes"))
        if outcomes:
            return _status(outcomes[min(call, len(outcomes)) - 1], node)
        if call <= as_int(node.get("sim.fail_attempts"), 0):
            return StageStatus.FAIL
        return _status(node.str_attr("sim.outcome", "success"), node)


def create_backend(scope: RunScope, options: dict[str, Any]) -> SimulateBackend:
    """The BACKENDS factory for `--backend simulate`."""
    return SimulateBackend(scope)
