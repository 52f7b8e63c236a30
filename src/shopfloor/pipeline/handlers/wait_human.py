"""The human gate (attractor-spec 4.6): offer the outgoing edges as choices and route on the answer.

Choices come from the edge labels (or target ids) with their accelerator keys.
The selection is returned both as `preferred_label` and as
`suggested_next_ids`, so edge selection routes on it. A timeout takes
`human.default_choice` when the node has one (else asks for a retry); a skip
fails the node; a stop request ends the wait and stops the run.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

from shopfloor.pipeline.context import Context
from shopfloor.pipeline.edge_selection import accelerator_key, normalize_label
from shopfloor.pipeline.events import EventBus, InterviewCompleted, InterviewStarted, InterviewTimeout
from shopfloor.pipeline.executor import RunStopped
from shopfloor.pipeline.graph import Graph, Node
from shopfloor.pipeline.interviewer import Answer, AnswerValue, Interviewer, Option, Question, QuestionType
from shopfloor.pipeline.node_attrs import as_seconds
from shopfloor.pipeline.outcome import Outcome, StageStatus


@dataclass(frozen=True)
class Choice:
    key: str
    label: str
    to: str


def choices_for(node: Node, graph: Graph) -> list[Choice]:
    out = []
    for edge in graph.outgoing(node.id):
        label = edge.label or edge.target
        out.append(Choice(accelerator_key(label), label, edge.target))
    return out


def find_choice(answer: Answer, choices: list[Choice]) -> Choice | None:
    if answer.selected_option is not None:
        for choice in choices:
            if choice.key == answer.selected_option.key and choice.label == answer.selected_option.label:
                return choice
    wanted = str(answer.value or answer.text).strip()
    for choice in choices:
        if wanted.lower() == choice.key.lower() or wanted == choice.to:
            return choice
    for choice in choices:
        if normalize_label(wanted) == normalize_label(choice.label):
            return choice
    return None


class WaitForHumanHandler:
    handles_timeout = True  # the interviewer bounds the wait itself (human.timeout)

    def __init__(self, interviewer: Interviewer, events: EventBus, stop_event: threading.Event) -> None:
        self.interviewer = interviewer
        self.events = events
        self.stop_event = stop_event

    def execute(self, node: Node, context: Context, graph: Graph, logs_root: Path) -> Outcome:
        choices = choices_for(node, graph)
        if not choices:
            return Outcome(StageStatus.FAIL, failure_reason="No outgoing edges for human gate")
        question = Question(text=node.str_attr("label") or "Select an option:",
                            type=QuestionType.MULTIPLE_CHOICE,
                            options=[Option(c.key, c.label) for c in choices],
                            timeout_seconds=as_seconds(node.get("human.timeout")), stage=node.id)
        self.events.emit(InterviewStarted(question.text, node.id))
        started = time.monotonic()
        answer = self.interviewer.ask(question)
        waited = round(time.monotonic() - started, 4)
        if self.stop_event.is_set():
            raise RunStopped(node.id)
        if answer.value == AnswerValue.TIMEOUT:
            self.events.emit(InterviewTimeout(question.text, node.id, waited))
            default = str(node.get("human.default_choice") or "")
            selected = next((c for c in choices if default and default in (c.to, c.key, c.label)), None)
            if selected is None:
                return Outcome(StageStatus.RETRY, failure_reason="human gate timeout, no default")
        else:
            self.events.emit(InterviewCompleted(question.text, answer.describe(), waited))
            if answer.value == AnswerValue.SKIPPED:
                return Outcome(StageStatus.FAIL, failure_reason="human skipped interaction")
            selected = find_choice(answer, choices) or choices[0]
        return Outcome(StageStatus.SUCCESS, preferred_label=selected.label, suggested_next_ids=[selected.to],
                       context_updates={"human.gate.selected": selected.key,
                                        "human.gate.label": selected.label},
                       notes=f"human selected {selected.label}")
