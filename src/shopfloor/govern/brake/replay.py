"""Offline replay: run the brake over a recorded event log and say where each detector fired.

Accepts a run's hash-chained events.jsonl (index = `seq`) or a plain JSONL of
`SessionEvent.to_dict()` lines (index = line number, from 0). Events of
different pipeline nodes go to different brakes, as they do live. The
destructive-command check needs the agent's working directory: it is taken from
the first event that names one (`working_directory`), else `workspace`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shopfloor.errors import UserError
from shopfloor.govern.brake.config import DETECTOR_NAMES, BrakeConfig
from shopfloor.govern.brake.destructive import DEFAULT_REPLAY_WORKSPACE
from shopfloor.govern.brake.ladder import Brake, Intervention
from shopfloor.govern.brake.steps import normalize
from shopfloor.govern.policy import Policy


@dataclass
class ReplayReport:
    events: int
    detectors: list[str]
    interventions: list[Intervention] = field(default_factory=list)

    def first(self) -> dict[str, Intervention]:
        """Each detector's first firing."""
        out: dict[str, Intervention] = {}
        for iv in self.interventions:
            out.setdefault(iv.detector, iv)
        return out

    def to_dict(self) -> dict[str, Any]:
        first = self.first()
        return {"events": self.events,
                "detectors": {name: ({"fired": True, "first_index": first[name].index,
                                      "reason": first[name].reason,
                                      "firings": sum(1 for iv in self.interventions if iv.detector == name),
                                      "escalated_at": next((iv.index for iv in self.interventions
                                                            if iv.detector == name and iv.escalated), None)}
                                     if name in first else {"fired": False})
                              for name in self.detectors},
                "interventions": [iv.to_dict() for iv in self.interventions]}


def _load(path: Path) -> list[tuple[int, str, dict[str, Any]]]:
    if not path.exists():
        raise UserError("event log not found", where=str(path), fix="pass the events.jsonl of a run")
    out = []
    with path.open("rb") as fh:
        for line_no, raw in enumerate(fh):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
                kind = str(obj["kind"])
            except (json.JSONDecodeError, KeyError, TypeError):
                if not raw.endswith(b"\n"):
                    break  # a torn last line from a crash: everything before it is still a log
                raise UserError("not an event record (expected a JSON object with a `kind`)",
                                where=f"{path}:{line_no + 1}",
                                fix="pass a run's events.jsonl or a JSONL of session events") from None
            data = obj.get("data") or {}
            if "session_id" in obj and isinstance(data, dict):
                data = {**data, "session_id": obj["session_id"]}
            out.append((int(obj.get("seq", line_no)), kind, data if isinstance(data, dict) else {}))
    return out


def replay(path: Path | str, policy: Policy, config: BrakeConfig | None = None,
           workspace: str | None = None) -> ReplayReport:
    config = config or BrakeConfig()
    events = _load(Path(path))
    if workspace is None:
        named = (normalize(k, d)[1].get("working_directory") for _, k, d in events)
        workspace = str(next((w for w in named if w), DEFAULT_REPLAY_WORKSPACE))
    brakes: dict[str, Brake] = {}
    report = ReplayReport(len(events), [n for n in DETECTOR_NAMES if config.enabled(n)])
    for index, kind, data in events:
        node = str(normalize(kind, data)[1].get("node_id") or "")
        brake = brakes.get(node)
        if brake is None:
            brake = brakes[node] = Brake(policy, config, workspace=workspace)
        report.interventions += brake.observe(kind, data, index)
    return report
