"""The brake: every detector over one event stream, and the ladder of responses.

A detector that fires first *steers* (rung 1): the agent gets a message that
names the problem and says what to do instead. If it fires again after
`steers_before_escalation` steers, the brake *escalates* (rung 2): the
configured escalation, "stop" (the node fails with the brake's reason) or
"pause" (a human decides). Every rung is emitted as a `brake.steer` /
`brake.escalate` event, so the run's log says what the brake did and why, and
`brake replay` over a recorded log reproduces the same decisions.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from shopfloor.govern.brake.config import BrakeConfig
from shopfloor.govern.brake.destructive import DEFAULT_REPLAY_WORKSPACE, DestructiveDetector
from shopfloor.govern.brake.detector import Detector
from shopfloor.govern.brake.gaming import GamingDetector
from shopfloor.govern.brake.progress import GrowthDetector, PlateauDetector
from shopfloor.govern.brake.steps import Step, StepTracker, ToolIntent
from shopfloor.govern.brake.stuck import StuckDetector
from shopfloor.govern.brake.thrash import ThrashDetector
from shopfloor.govern.policy import Policy

STEER_EVENT = "brake.steer"
ESCALATE_EVENT = "brake.escalate"


@dataclass(frozen=True)
class Intervention:
    detector: str
    rung: int            # 1 = steer, 2 = escalate
    action: str          # "steer", "stop" or "pause"
    reason: str
    index: int           # the event (or intent) index at which the detector fired
    message: str         # what the agent is told

    @property
    def escalated(self) -> bool:
        return self.rung >= 2

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def build_detectors(policy: Policy, config: BrakeConfig, *, workspace: str = DEFAULT_REPLAY_WORKSPACE,
                    exists: Callable[[str], bool] | None = None) -> list[Detector]:
    detectors: list[Detector] = [
        StuckDetector(config.stuck), ThrashDetector(config.thrash), PlateauDetector(config.plateau),
        GrowthDetector(config.growth), GamingDetector(policy, exists, workspace),
        DestructiveDetector(policy, workspace),
    ]
    return [d for d in detectors if config.enabled(d.name)]


class Brake:
    """Watches one node's event stream (all its sessions and retries); callers feeding it from
    several threads hold `lock` around `observe` / `judge_intent`."""

    def __init__(self, policy: Policy, config: BrakeConfig | None = None, *,
                 workspace: str = DEFAULT_REPLAY_WORKSPACE, exists: Callable[[str], bool] | None = None,
                 emit: Callable[[str, dict[str, Any]], None] | None = None, live: bool = False) -> None:
        """`live`: tool calls are judged through `judge_intent` (the pre-tool hook), not from events."""
        self.config = config or BrakeConfig()
        self.detectors = build_detectors(policy, self.config, workspace=workspace, exists=exists)
        self.emit = emit
        self.interventions: list[Intervention] = []
        self._tracker = StepTracker(intents_from_starts=not live)
        self._fired: dict[str, int] = defaultdict(int)
        self._index = 0
        self.lock = threading.RLock()

    def observe(self, kind: str, data: dict[str, Any], index: int | None = None) -> list[Intervention]:
        """Feed one raw event; return the rungs it triggered (usually none)."""
        if kind.startswith("brake."):
            return []  # our own decisions, when replaying a log that contains them
        at = self._next_index(index)
        out = []
        for step in self._tracker.feed(at, kind, data):
            out += self._run(step)
        return out

    def judge_intent(self, call_id: str, tool_name: str, arguments: dict[str, Any],
                     node_id: str = "") -> list[Intervention]:
        """A tool call about to run (the pre-tool hook). Any intervention means: do not run it."""
        return self._run(ToolIntent(self._next_index(None), call_id, tool_name, arguments, node_id))

    def _next_index(self, index: int | None) -> int:
        at = self._index if index is None else index
        self._index = at + 1
        return at

    def _run(self, step: Step) -> list[Intervention]:
        out = []
        for detector in self.detectors:
            reason = detector.observe(step)
            if reason:
                out.append(self._respond(detector, reason, step.index))
        return out

    def _respond(self, detector: Detector, reason: str, index: int) -> Intervention:
        self._fired[detector.name] += 1
        if self._fired[detector.name] <= self.config.steers_before_escalation:
            rung, action = 1, "steer"
            message = f"[shopfloor brake: {detector.name}] {reason}. {detector.advice}"
        else:
            rung, action = 2, self.config.escalation
            message = f"[shopfloor brake: {detector.name}] {reason}; escalated ({action}) after steering"
        intervention = Intervention(detector.name, rung, action, reason, index, message)
        self.interventions.append(intervention)
        if self.emit is not None:
            self.emit(STEER_EVENT if rung == 1 else ESCALATE_EVENT, intervention.to_dict())
        return intervention
