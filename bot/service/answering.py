"""The asynchronous face of answering, for the chat adapters: admission, a fair turn, two steps.

A question is admitted (the per-student rate, the bound on waiting questions), waits its
turn in a line served round-robin across students, is searched on the retrieval workers
(a decline or a quote ends there) and, when the model must write, waits its turn for a
generation slot. The event loop only ever waits on futures.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections.abc import Callable

from bot.app import MentorApp
from bot.errors import LineFullError
from bot.service.fair_line import FairLine, PositionCallback
from bot.service.offload import Offloader
from bot.service.student_limits import StudentLimits
from models import Answer, Question
from rag.answerer import Draft

PartialCallback = Callable[[str], None]
"""Called on the event loop with the answer's text so far (markers renumbered), as the model writes it."""
AfterAnswer = Callable[[Question, Answer], Answer]
"""Runs on the worker thread right after the answer is written (recording it, say), off the loop."""

PACE_WEIGHT = 0.2
"""How much each finished answer moves the estimate of seconds per answer (an exponential average)."""
_anonymous = itertools.count(1)


class Admission:
    """A question let in: whose it is, how many questions were ahead of it, and its place held.

    The place counts against the bound from admission on, so that a burst admitted while the
    adapter posts its placeholders cannot overshoot it. `answer` takes the place over; an
    adapter that fails before asking leaves the `with` block, which gives it back.
    """

    def __init__(self, student: str, ahead: int, give_back: Callable[[], None] | None = None) -> None:
        self.student = student
        self.ahead = ahead
        self._give_back = give_back

    def __enter__(self) -> Admission:
        return self

    def __exit__(self, *_: object) -> None:
        self.take()

    def take(self) -> None:
        """The place is the line's now (or given back): count it once."""
        if self._give_back is not None:
            self._give_back()
            self._give_back = None


def student_of(question: Question) -> str | None:
    """The key fairness and rate limits count by; None for an asker no platform named (each their own)."""
    return f"{question.platform}:{question.asker}" if question.asker else None


class AnswerService:
    """`await answer(question)`; `admit` first when the adapter shows the place in line before answering."""

    def __init__(self, mentor: MentorApp, offloader: Offloader, limits: StudentLimits | None = None) -> None:
        settings = mentor.settings.answer
        self.mentor = mentor
        self.offloader = offloader
        self.limits = limits or StudentLimits(settings.per_student_per_minute)
        self.max_waiting = settings.queue_size
        self.searching = FairLine(offloader.retrieval.workers)
        self.writing = FairLine(offloader.generation.workers)
        self._held = 0
        """Places held by admissions whose questions have not joined the line yet."""
        self._seconds_per_answer = 5.0
        """Per generation slot; only worded into "ask again in about N minutes"."""

    @property
    def waiting(self) -> int:
        """Questions admitted and not yet answered or being answered."""
        return self._held + self.searching.waiting + self.writing.waiting

    async def admit(self, question: Question) -> Admission:
        """Let a question in, or raise `LineFullError` or `RateLimitedError` (before anything is shown)."""
        if self.waiting >= self.max_waiting:
            raise LineFullError(self._full(self.waiting))
        student = student_of(question)
        if student is None:
            student = f"{question.platform}:anonymous-{next(_anonymous)}"
        else:
            await self.limits.check(student)
        # Questions admitted just before this one, still on their way into the line, count as ahead.
        ahead = self._held + self.searching.ahead_of_new(student) + self.writing.waiting
        self._held += 1
        return Admission(student, ahead, self._give_back)

    async def answer(
        self,
        question: Question,
        on_partial: PartialCallback | None = None,
        after: AfterAnswer | None = None,
        *,
        admission: Admission | None = None,
        on_position: PositionCallback | None = None,
    ) -> Answer:
        admission = admission or await self.admit(question)
        admission.take()
        loop = asyncio.get_running_loop()

        def on_text(text: str) -> None:
            loop.call_soon_threadsafe(on_partial, text)  # type: ignore[arg-type]

        def finish(answer: Answer) -> Answer:
            return after(question, answer) if after is not None else answer

        def retrieve() -> Answer | Draft:
            outcome = self.mentor.retrieve(question)
            return finish(outcome) if isinstance(outcome, Answer) else outcome

        def write(draft: Draft) -> Answer:
            return finish(self.mentor.answerer.write(draft, on_text if on_partial is not None else None))

        searching_position = None if on_position is None else (lambda ahead: on_position(ahead + self.writing.waiting))
        async with self.searching.turn(admission.student, searching_position) as turn:
            outcome = await self.offloader.retrieve(retrieve)
            self.searching.release(turn)  # the next student's search starts while this answer waits to be written
            if isinstance(outcome, Answer):
                return outcome
            async with self.writing.turn(admission.student, on_position):
                started = time.monotonic()
                answer = await self.offloader.generate(write, outcome)
                self._paced(time.monotonic() - started)
                return answer

    def _give_back(self) -> None:
        self._held -= 1

    def close(self) -> int:
        """Take no more questions; those still waiting for a turn are told the service is restarting. Returns how many."""
        return self.searching.close() + self.writing.close()

    def _paced(self, seconds: float) -> None:
        self._seconds_per_answer += PACE_WEIGHT * (seconds - self._seconds_per_answer)

    def _full(self, waiting: int) -> str:
        minutes = max(1, math.ceil(waiting * self._seconds_per_answer / max(1, self.writing.capacity) / 60))
        return (
            f"{waiting:,} questions are waiting to be answered right now, which is as many as I can hold. "
            f"Please ask again in about {minutes} minute{'s' if minutes != 1 else ''}."
        )
