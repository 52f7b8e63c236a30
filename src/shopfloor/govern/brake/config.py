"""`[brake]` of shopfloor.toml: every detector's thresholds, with named defaults.

    [brake]
    steers_before_escalation = 1     # rung 1 repeats this many times, then rung 2
    escalation = "stop"              # or "pause": ask a human whether to continue
    [brake.stuck]
    same_result = 5
    [brake.detectors]
    thrash = false                   # switch one detector off
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shopfloor.config import ProjectFile

# Stuck: OpenHands' StuckDetector defaults.
DEFAULT_STUCK_WINDOW = 20            #: steps looked at
DEFAULT_STUCK_SAME_RESULT = 4        #: same tool call with the same result, in a row
DEFAULT_STUCK_SAME_ERROR = 3         #: same tool call failing, in a row
DEFAULT_STUCK_ALTERNATION = 6        #: A-B-A-B-A-B over this many steps
DEFAULT_STUCK_MONOLOGUE = 3          #: assistant messages in a row with no tool use
# Thrash.
DEFAULT_THRASH_REVISITS = 2          #: times a file returns to an older content hash
DEFAULT_THRASH_UNDOS = 2             #: edits that exactly undo an earlier edit
# Plateau: test runs in a row (across a node's retries) without a better pass rate.
DEFAULT_PLATEAU_RUNS = 5
# Growth without progress.
DEFAULT_GROWTH_LINES = 300           #: lines added since passing tests last increased
DEFAULT_GROWTH_TEST_RUNS = 3         #: ...over at least this many test runs
# Ladder.
DEFAULT_STEERS_BEFORE_ESCALATION = 1
DEFAULT_ESCALATION: Literal["stop", "pause"] = "stop"

DETECTOR_NAMES = ("stuck", "thrash", "plateau", "growth", "gaming", "destructive")


class StuckConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    window: int = Field(DEFAULT_STUCK_WINDOW, ge=2)
    same_result: int = Field(DEFAULT_STUCK_SAME_RESULT, ge=2)
    same_error: int = Field(DEFAULT_STUCK_SAME_ERROR, ge=2)
    alternation: int = Field(DEFAULT_STUCK_ALTERNATION, ge=4)
    monologue: int = Field(DEFAULT_STUCK_MONOLOGUE, ge=2)


class ThrashConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    revisits: int = Field(DEFAULT_THRASH_REVISITS, ge=1)
    undos: int = Field(DEFAULT_THRASH_UNDOS, ge=1)


class PlateauConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    runs: int = Field(DEFAULT_PLATEAU_RUNS, ge=2)


class GrowthConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    lines: int = Field(DEFAULT_GROWTH_LINES, ge=1)
    test_runs: int = Field(DEFAULT_GROWTH_TEST_RUNS, ge=1)


class BrakeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    stuck: StuckConfig = StuckConfig()
    thrash: ThrashConfig = ThrashConfig()
    plateau: PlateauConfig = PlateauConfig()
    growth: GrowthConfig = GrowthConfig()
    #: detector name -> enabled; all are on unless switched off here.
    detectors: dict[Literal["stuck", "thrash", "plateau", "growth", "gaming", "destructive"], bool] = {}
    steers_before_escalation: int = Field(DEFAULT_STEERS_BEFORE_ESCALATION, ge=0)
    escalation: Literal["stop", "pause"] = DEFAULT_ESCALATION

    def enabled(self, name: str) -> bool:
        return self.detectors.get(name, True)  # type: ignore[call-overload]


def load_brake_config(project_file: ProjectFile | None = None) -> BrakeConfig:
    pf = project_file if project_file is not None else ProjectFile.load()
    return pf.section("brake", BrakeConfig)
