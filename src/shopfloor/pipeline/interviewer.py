"""Human-in-the-loop (attractor-spec 6): Questions, Answers and the interviewers that ask them.

Every human gate goes through an `Interviewer`. Built in: AutoApprove (CI),
Console (a terminal), Callback (Slack, web), Queue (tests, replay), Recording
(audit) and AnswersFile (`shopfloor run --answers FILE`). Waits are bounded
by the question's `timeout_seconds` and end early when the run is asked to
stop, so a stop never hangs on a human.
"""

from __future__ import annotations

import json
import select
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol, TextIO, runtime_checkable

from shopfloor.errors import UserError
from shopfloor.pipeline.edge_selection import normalize_label

#: No timeout unless the question (or the node's `human.timeout`) sets one.
DEFAULT_TIMEOUT_SECONDS: float | None = None
#: How often a blocking wait checks for a stop request.
DEFAULT_POLL_INTERVAL_S = 0.2


class QuestionType(StrEnum):
    YES_NO = "yes_no"
    MULTIPLE_CHOICE = "multiple_choice"
    FREEFORM = "freeform"
    CONFIRMATION = "confirmation"


class AnswerValue(StrEnum):
    YES = "yes"
    NO = "no"
    SKIPPED = "skipped"
    TIMEOUT = "timeout"


@dataclass(frozen=True)
class Option:
    key: str
    label: str


@dataclass
class Answer:
    value: str | AnswerValue = ""
    selected_option: Option | None = None
    text: str = ""

    def describe(self) -> str:
        if self.selected_option is not None:
            return self.selected_option.label
        return self.text or str(self.value)


@dataclass
class Question:
    text: str
    type: QuestionType = QuestionType.MULTIPLE_CHOICE
    options: list[Option] = field(default_factory=list)
    default: Answer | None = None
    timeout_seconds: float | None = DEFAULT_TIMEOUT_SECONDS
    stage: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Interviewer(Protocol):
    def ask(self, question: Question) -> Answer: ...

    def ask_multiple(self, questions: list[Question]) -> list[Answer]: ...

    def inform(self, message: str, stage: str) -> None: ...


class BaseInterviewer:
    """ask_multiple and inform in terms of ask; subclasses implement `ask`."""

    def ask(self, question: Question) -> Answer:
        raise NotImplementedError

    def ask_multiple(self, questions: list[Question]) -> list[Answer]:
        return [self.ask(q) for q in questions]

    def inform(self, message: str, stage: str) -> None:
        return None


def match_option(response: str, options: Iterable[Option]) -> Option | None:
    """An option by key (case-insensitive), then by label, then by label prefix (accelerators ignored)."""
    wanted = response.strip().lower()
    if not wanted:
        return None
    options = list(options)
    for option in options:
        if option.key.lower() == wanted:
            return option
    labels = [(option, normalize_label(option.label)) for option in options]
    wanted = normalize_label(response)
    for option, label in labels:
        if label == wanted:
            return option
    for option, label in labels:
        if label.startswith(wanted):
            return option
    return None


def answer_from_text(question: Question, response: str) -> Answer:
    """Interpret a typed or scripted response against the question's type."""
    if question.type in (QuestionType.YES_NO, QuestionType.CONFIRMATION):
        yes = response.strip().lower() in ("y", "yes", "true", "1", "ok", "approve")
        return Answer(value=AnswerValue.YES if yes else AnswerValue.NO, text=response)
    if question.type == QuestionType.MULTIPLE_CHOICE:
        option = match_option(response, question.options)
        if option is None:
            return Answer(value=response.strip(), text=response)
        return Answer(value=option.key, selected_option=option)
    return Answer(value=response, text=response)


def on_timeout(question: Question) -> Answer:
    """Spec 6.5: the question's default, else TIMEOUT."""
    return question.default if question.default is not None else Answer(value=AnswerValue.TIMEOUT)


class AutoApproveInterviewer(BaseInterviewer):
    """YES to yes/no questions, the first option of a choice; for CI and `--auto-approve`."""

    def ask(self, question: Question) -> Answer:
        if question.type in (QuestionType.YES_NO, QuestionType.CONFIRMATION):
            return Answer(value=AnswerValue.YES)
        if question.type == QuestionType.MULTIPLE_CHOICE and question.options:
            return Answer(value=question.options[0].key, selected_option=question.options[0])
        return Answer(value="auto-approved", text="auto-approved")


class ConsoleInterviewer(BaseInterviewer):
    """Prompts on a terminal and reads a line, honouring the timeout and stop requests."""

    def __init__(self, stdin: TextIO | None = None, stdout: TextIO | None = None,
                 stop_event: threading.Event | None = None,
                 poll_interval_s: float = DEFAULT_POLL_INTERVAL_S) -> None:
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stderr  # stdout stays clean for --json
        self.stop_event = stop_event
        self.poll_interval_s = poll_interval_s

    def _read_line(self, prompt: str, timeout: float | None) -> str | None:
        """A line, "" at end of input, None on timeout or stop."""
        self.stdout.write(prompt)
        self.stdout.flush()
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            self.stdin.fileno()
        except (OSError, ValueError, AttributeError):
            return self.stdin.readline()  # not a real file (e.g. StringIO): no waiting to do
        while True:
            if self.stop_event is not None and self.stop_event.is_set():
                return None
            wait = self.poll_interval_s
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                wait = min(wait, left)
            ready, _, _ = select.select([self.stdin], [], [], wait)
            if ready:
                return self.stdin.readline()

    def ask(self, question: Question) -> Answer:
        self.stdout.write(f"[?] {question.text}\n")
        if question.type == QuestionType.MULTIPLE_CHOICE:
            for option in question.options:
                has_prefix = normalize_label(option.label) != option.label.strip().lower()
                shown = option.label if has_prefix else f"[{option.key}] {option.label}"
                self.stdout.write(f"  {shown}\n")
            prompt = "Select: "
        elif question.type in (QuestionType.YES_NO, QuestionType.CONFIRMATION):
            prompt = "[Y/N]: "
        else:
            prompt = "> "
        line = self._read_line(prompt, question.timeout_seconds)
        if line is None:
            return on_timeout(question)
        if line == "":
            return Answer(value=AnswerValue.SKIPPED)  # end of input: nobody is there to answer
        return answer_from_text(question, line.rstrip("\n"))

    def inform(self, message: str, stage: str) -> None:
        self.stdout.write(f"[{stage}] {message}\n" if stage else f"{message}\n")


class CallbackInterviewer(BaseInterviewer):
    def __init__(self, callback: Callable[[Question], Answer]) -> None:
        self.callback = callback

    def ask(self, question: Question) -> Answer:
        return self.callback(question)


class QueueInterviewer(BaseInterviewer):
    """Answers from a pre-filled queue; SKIPPED once it is empty."""

    def __init__(self, answers: Iterable[Answer] = ()) -> None:
        self.answers: deque[Answer] = deque(answers)
        self._lock = threading.Lock()

    def ask(self, question: Question) -> Answer:
        with self._lock:
            if self.answers:
                return self.answers.popleft()
        return Answer(value=AnswerValue.SKIPPED)


class RecordingInterviewer(BaseInterviewer):
    def __init__(self, inner: Interviewer) -> None:
        self.inner = inner
        self.recordings: list[tuple[Question, Answer]] = []

    def ask(self, question: Question) -> Answer:
        answer = self.inner.ask(question)
        self.recordings.append((question, answer))
        return answer

    def inform(self, message: str, stage: str) -> None:
        self.inner.inform(message, stage)


class AnswersFileInterviewer(BaseInterviewer):
    """Scripted answers from a JSON file: `{"stage_id": "A"}` or `{"stage_id": ["F", "A"]}`.

    A list answers successive visits of the same stage. A stage with no
    (remaining) answer gets the question's default, else SKIPPED. The visit
    counter starts from `consumed` so a resumed run continues the script.
    """

    def __init__(self, script: dict[str, list[str]], consumed: dict[str, int] | None = None) -> None:
        self.script = script
        self.consumed: dict[str, int] = dict(consumed or {})
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: Path | str) -> AnswersFileInterviewer:
        path = Path(path)
        fix = 'write a JSON object mapping stage ids to an answer or a list of answers, e.g. {"review": "A"}'
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise UserError("answers file not found", where=str(path), fix="pass an existing file") from None
        except json.JSONDecodeError as exc:
            raise UserError(f"answers file is not valid JSON ({exc.msg})",
                            where=f"{path}:{exc.lineno}:{exc.colno}", fix=fix) from None
        if not isinstance(data, dict):
            raise UserError("answers file must hold a JSON object", where=str(path), fix=fix)
        script: dict[str, list[str]] = {}
        for stage, value in data.items():
            values = value if isinstance(value, list) else [value]
            if not all(isinstance(v, str | int | bool) for v in values):
                raise UserError(f"answer for stage {stage!r} must be a string or a list of strings",
                                where=str(path), fix=fix)
            script[stage] = [str(v).lower() if isinstance(v, bool) else str(v) for v in values]
        return cls(script)

    def ask(self, question: Question) -> Answer:
        with self._lock:
            answers = self.script.get(question.stage, [])
            index = self.consumed.get(question.stage, 0)
            self.consumed[question.stage] = index + 1
        if index >= len(answers):
            return question.default if question.default is not None else Answer(value=AnswerValue.SKIPPED)
        return answer_from_text(question, answers[index])
