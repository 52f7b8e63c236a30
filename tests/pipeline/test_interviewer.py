"""attractor-spec 6 / DoD 11.8: the Interviewer implementations."""

from __future__ import annotations

import io
import json
import os
import threading
import time
from pathlib import Path

import pytest

from shopfloor.errors import UserError
from shopfloor.pipeline.interviewer import (
    Answer,
    AnswersFileInterviewer,
    AnswerValue,
    AutoApproveInterviewer,
    CallbackInterviewer,
    ConsoleInterviewer,
    Interviewer,
    Option,
    Question,
    QuestionType,
    QueueInterviewer,
    RecordingInterviewer,
)

CHOICE = Question(
    "Deploy?", QuestionType.MULTIPLE_CHOICE, [Option("Y", "[Y] Yes, deploy"), Option("N", "No")], stage="gate"
)


def test_question_supports_every_type() -> None:
    assert {t.name for t in QuestionType} == {"YES_NO", "MULTIPLE_CHOICE", "FREEFORM", "CONFIRMATION"}


def test_auto_approve_picks_yes_and_the_first_option() -> None:
    auto = AutoApproveInterviewer()
    assert isinstance(auto, Interviewer)
    assert auto.ask(Question("ok?", QuestionType.YES_NO)).value == AnswerValue.YES
    assert auto.ask(Question("sure?", QuestionType.CONFIRMATION)).value == AnswerValue.YES
    answer = auto.ask(CHOICE)
    assert answer.value == "Y" and answer.selected_option == CHOICE.options[0]
    assert auto.ask(Question("why?", QuestionType.FREEFORM)).text == "auto-approved"


def test_callback_queue_and_recording() -> None:
    callback = CallbackInterviewer(lambda q: Answer(value="N", selected_option=q.options[1]))
    assert callback.ask(CHOICE).selected_option == Option("N", "No")
    queue = QueueInterviewer([Answer(value="first"), Answer(value="second")])
    recording = RecordingInterviewer(queue)
    assert [recording.ask(CHOICE).value for _ in range(3)] == ["first", "second", AnswerValue.SKIPPED]
    assert [(q.text, a.value) for q, a in recording.recordings][:2] == [
        ("Deploy?", "first"),
        ("Deploy?", "second"),
    ]
    assert len(recording.ask_multiple([CHOICE, CHOICE])) == 2


def test_console_reads_a_choice_from_a_real_pipe() -> None:
    read_fd, write_fd = os.pipe()
    os.write(write_fd, b"n\n")
    out = io.StringIO()
    with os.fdopen(read_fd) as stdin:
        answer = ConsoleInterviewer(stdin=stdin, stdout=out).ask(CHOICE)
    os.close(write_fd)
    assert answer.selected_option == Option("N", "No")
    assert "[?] Deploy?" in out.getvalue() and "  [Y] Yes, deploy\n  [N] No" in out.getvalue()


def test_console_yes_no_freeform_and_end_of_input() -> None:
    console = ConsoleInterviewer(stdin=io.StringIO("yes\n"), stdout=io.StringIO())
    assert console.ask(Question("ok?", QuestionType.YES_NO)).value == AnswerValue.YES
    console = ConsoleInterviewer(stdin=io.StringIO("because\n"), stdout=io.StringIO())
    assert console.ask(Question("why?", QuestionType.FREEFORM)).text == "because"
    console = ConsoleInterviewer(stdin=io.StringIO(""), stdout=io.StringIO())
    assert console.ask(CHOICE).value == AnswerValue.SKIPPED


def test_console_timeout_uses_default_else_timeout() -> None:
    read_fd, write_fd = os.pipe()
    try:
        with os.fdopen(read_fd) as stdin:
            console = ConsoleInterviewer(stdin=stdin, stdout=io.StringIO(), poll_interval_s=0.02)
            timed = Question("q", QuestionType.YES_NO, timeout_seconds=0.1)
            assert console.ask(timed).value == AnswerValue.TIMEOUT
            with_default = Question("q", QuestionType.YES_NO, timeout_seconds=0.1, default=Answer(value="no"))
            assert console.ask(with_default).value == "no"
    finally:
        os.close(write_fd)


def test_console_wait_ends_on_a_stop_request() -> None:
    read_fd, write_fd = os.pipe()
    stop = threading.Event()
    threading.Timer(0.2, stop.set).start()
    started = time.monotonic()
    try:
        with os.fdopen(read_fd) as stdin:
            answer = ConsoleInterviewer(stdin=stdin, stdout=io.StringIO(), stop_event=stop).ask(CHOICE)
    finally:
        os.close(write_fd)
    assert answer.value == AnswerValue.TIMEOUT and time.monotonic() - started < 5


def test_answers_file_scripts_successive_visits(tmp_path: Path) -> None:
    path = tmp_path / "answers.json"
    path.write_text(json.dumps({"gate": ["N", "Yes, deploy"], "confirm": True}))
    scripted = AnswersFileInterviewer.load(path)
    assert scripted.ask(CHOICE).selected_option == Option("N", "No")
    assert scripted.ask(CHOICE).selected_option == CHOICE.options[0]
    assert scripted.ask(CHOICE).value == AnswerValue.SKIPPED
    assert scripted.ask(Question("c", QuestionType.CONFIRMATION, stage="confirm")).value == AnswerValue.YES


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1]", "must hold a JSON object"),
        ('{"gate": {"x": 1}}', "must be a string"),
    ],
)
def test_bad_answers_files_are_one_line_errors(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "answers.json"
    path.write_text(content)
    with pytest.raises(UserError, match=message):
        AnswersFileInterviewer.load(path)
    with pytest.raises(UserError, match="not found"):
        AnswersFileInterviewer.load(tmp_path / "missing.json")
