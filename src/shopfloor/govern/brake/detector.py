"""The one thing every detector is: a rule that watches steps and says why it fired."""

from __future__ import annotations

from typing import Protocol

from shopfloor.govern.brake.steps import Step


class Detector(Protocol):
    #: The name in `[brake.detectors]`, in events and in `brake replay` output.
    name: str
    #: What the agent is told on the first rung, after the reason.
    advice: str

    def observe(self, step: Step) -> str | None:
        """Take one step; return why the detector fires on it, or None."""
        ...
