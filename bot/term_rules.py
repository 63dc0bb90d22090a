"""What the course's calendar changes about an answer: exam windows (only logistics, or nothing,
and the student is told so) and assignment policies (the mode a draft is written under)."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError

from ingest.assignments import AssignmentRules
from ingest.declared_assignment import with_declared
from ingest.exclusion import compile_glob
from ingest.manifest import Manifest
from models import Answer, Course, ExamWindow, IngestReport, Question
from rag.answerer import Answerer, AnswerMode, Draft
from rag.assignment_guard import guarded_answer

log = logging.getLogger(__name__)
DECLARATIONS_TTL_S = 60.0
"""How long a course's declared assignments are kept before the state database is read again
(another replica's ingest may have changed them)."""

PAUSED = (
    "The {name} is under way until {end}, so I'm not answering course questions until then. "
    "Good luck! For anything urgent, ask the invigilator or a TA."
)
LOGISTICS_ONLY = (
    "The {name} is under way until {end}, so I can only answer questions about logistics "
    "(times, rooms, rules) until then. Good luck!"
)


def retrieve_in_term(answerer: Answerer, question: Question, course: Course, mode: AnswerMode, now: datetime) -> Answer | Draft:
    """The answerer's first step, under the exam window open `now` and the assignment the question touches.

    `course.sources` are the folders the course is read from (its Git checkout included): an
    assignment's solution files are read there for the check before its deadline.
    """
    window = open_window(course, now)
    if window is not None and window.answers == "nothing":
        return paused(window)
    outcome = answerer.retrieve(question, course, mode)
    declined = isinstance(outcome, Answer) and not outcome.grounded
    if window is not None and not declined and not is_logistics(window, outcome):
        return paused(window)
    if not course.assignments:
        return outcome
    if isinstance(outcome, Answer):
        # A quote of the course's own text is checked like a written answer: released notes can hold the solution's code.
        if outcome.kind != "quote":
            return outcome
        sources = [citation.source for citation in outcome.citations]
        return guarded_answer(outcome, AssignmentRules(course).active(question.text, sources, now))
    sources = [hit.source for hit in outcome.hits]
    return replace(outcome, assignment=AssignmentRules(course).active(outcome.question, sources, now))


def open_window(course: Course, now: datetime) -> ExamWindow | None:
    return next((window for window in course.exams if window.covers(now)), None)


def paused(window: ExamWindow) -> Answer:
    """The answer a student gets instead of one about the course while the window is open."""
    template = PAUSED if window.answers == "nothing" else LOGISTICS_ONLY
    return Answer(text=template.format(name=window.name, end=f"{window.end:%Y-%m-%d %H:%M %Z}".strip()), grounded=False, kind="exam")


def is_logistics(window: ExamWindow, outcome: Answer | Draft) -> bool:
    """Whether the best source of what was found is one of the window's logistics files."""
    if isinstance(outcome, Draft):
        best = outcome.hits[0].source if outcome.hits else None
    else:
        best = outcome.citations[0].source if outcome.citations else None
    return best is not None and any(compile_glob(pattern).matches(best) for pattern in window.logistics)


class DeclaredAssignments:
    """The assignments each course's files declared at its last ingest, read from the state database
    at most once a `ttl_s`: every question needs them, and an unreachable database must cost
    answers nothing (the last declarations read are kept, and none at all before the first read)."""

    def __init__(self, manifest: Manifest, ttl_s: float = DECLARATIONS_TTL_S) -> None:
        self.manifest = manifest
        self.ttl_s = ttl_s
        self._reports: dict[str, tuple[float, IngestReport | None]] = {}
        self._lock = threading.Lock()

    def applied(self, course: Course) -> Course:
        return with_declared(course, self._report(course.name))

    def forget(self, course_name: str) -> None:
        """After this process ingests the course: its next question reads the new declarations."""
        with self._lock:
            self._reports.pop(course_name, None)

    def _report(self, course_name: str) -> IngestReport | None:
        with self._lock:
            read_at, report = self._reports.get(course_name, (float("-inf"), None))
        if time.monotonic() - read_at < self.ttl_s:
            return report
        try:
            report = self.manifest.course(course_name).last_report
        except SQLAlchemyError as exc:
            log.warning("could not read %s's declared assignments (%s); using the last ones read", course_name, exc)
            return report
        with self._lock:
            self._reports[course_name] = (time.monotonic(), report)
        return report
