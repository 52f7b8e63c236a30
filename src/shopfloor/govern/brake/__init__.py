"""The brake: detectors over an agent's event stream and the steer-then-escalate ladder.

`Brake` (ladder.py) feeds raw events through `StepTracker` (steps.py) to each
detector (stuck, thrash, progress, gaming, destructive); `replay` runs it
offline over a recorded events.jsonl. Thresholds live in `[brake]` (config.py).
"""

from shopfloor.govern.brake.config import BrakeConfig, load_brake_config
from shopfloor.govern.brake.ladder import ESCALATE_EVENT, STEER_EVENT, Brake, Intervention

__all__ = ["ESCALATE_EVENT", "STEER_EVENT", "Brake", "BrakeConfig", "Intervention", "load_brake_config"]
