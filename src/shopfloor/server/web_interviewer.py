"""An Interviewer whose questions are answered over HTTP (attractor-spec 9.5: human gates on the web).

`ask` parks the question where `pending()` lists it and blocks the run's
thread until `answer(question_id, response)` arrives, the question's timeout
passes (its default or TIMEOUT, spec 6.5), or the run is asked to stop.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from shopfloor.errors import UserError
from shopfloor.pipeline.interviewer import (
    DEFAULT_POLL_INTERVAL_S,
    Answer,
    BaseInterviewer,
    Question,
    answer_from_text,
    on_timeout,
)


@dataclass
class PendingQuestion:
    id: str
    question: Question
    asked_at: float
    answered: threading.Event = field(default_factory=threading.Event)
    answer: Answer | None = None

    def to_dict(self) -> dict[str, Any]:
        q = self.question
        return {"id": self.id, "text": q.text, "type": q.type.value, "stage": q.stage,
                "options": [{"key": o.key, "label": o.label} for o in q.options],
                "timeout_seconds": q.timeout_seconds, "asked_at": self.asked_at}


class WebInterviewer(BaseInterviewer):
    def __init__(self, stop_event: threading.Event, poll_interval_s: float = DEFAULT_POLL_INTERVAL_S) -> None:
        self.stop_event = stop_event
        self.poll_interval_s = poll_interval_s
        self._pending: dict[str, PendingQuestion] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def pending(self) -> list[PendingQuestion]:
        with self._lock:
            return list(self._pending.values())

    def ask(self, question: Question) -> Answer:
        with self._lock:
            parked = PendingQuestion(f"q{next(self._ids)}", question, time.time())
            self._pending[parked.id] = parked
        deadline = None if question.timeout_seconds is None else time.monotonic() + question.timeout_seconds
        try:
            while not parked.answered.wait(self.poll_interval_s):
                if self.stop_event.is_set() or (deadline is not None and time.monotonic() >= deadline):
                    break
        finally:
            with self._lock:
                self._pending.pop(parked.id, None)
        return parked.answer if parked.answer is not None else on_timeout(question)

    def answer(self, question_id: str, response: str) -> Answer:
        """Answer a pending question by option key, option label or free text."""
        with self._lock:
            parked = self._pending.get(question_id)
            if parked is None or parked.answered.is_set():
                raise UserError(f"no pending question {question_id!r}", where="answer",
                                fix="list the open questions with GET /pipelines/{id}/questions")
            parked.answer = answer_from_text(parked.question, response)
            parked.answered.set()
            return parked.answer
