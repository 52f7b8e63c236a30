"""Stuck: the agent repeats itself (OpenHands' StuckDetector rules, same defaults).

Four patterns, each judged on the newest step so a detector fires when the
pattern completes, not again on every later unrelated step:
the same tool call with the same result N times in a row; the same call
failing N times in a row; two calls alternating A-B-A-B over N steps; and N
assistant messages in a row without any tool use (monologue).
"""

from __future__ import annotations

from collections import deque

from shopfloor.govern.brake.config import StuckConfig
from shopfloor.govern.brake.steps import Step, TextStep, ToolIntent, ToolStep


def _first_line(text: str, limit: int = 120) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:limit]


class StuckDetector:
    name = "stuck"
    advice = "Repeating the same action will not give a different result; step back and try another approach."

    def __init__(self, config: StuckConfig) -> None:
        self.config = config
        self._calls: deque[ToolStep] = deque(maxlen=config.window)
        self._monologue = 0

    def observe(self, step: Step) -> str | None:
        if isinstance(step, ToolIntent):
            self._monologue = 0
            return None
        if isinstance(step, TextStep):
            self._monologue += 1
            if self._monologue >= self.config.monologue:
                return f"{self._monologue} assistant messages in a row without using a tool"
            return None
        if not isinstance(step, ToolStep):
            return None
        self._monologue = 0
        self._calls.append(step)
        calls = list(self._calls)
        n = self.config.same_error
        last = calls[-n:]
        if len(last) == n and all(c.is_error and c.signature == step.signature for c in last):
            return f"the same `{step.name}` call failed {n} times in a row: {_first_line(step.output)}"
        n = self.config.same_result
        last = calls[-n:]
        if len(last) == n and all((c.signature, c.result_hash) == (step.signature, step.result_hash)
                                  for c in last):
            return f"the same `{step.name}` call returned the same result {n} times in a row"
        n = self.config.alternation
        last = calls[-n:]
        if len(last) == n:
            a, b = (last[0].signature, last[0].result_hash), (last[1].signature, last[1].result_hash)
            if a != b and all((c.signature, c.result_hash) == (a if i % 2 == 0 else b)
                              for i, c in enumerate(last)):
                return (f"alternating between `{last[0].name}` and `{last[1].name}` with the same results "
                        f"for {n} steps")
        return None
