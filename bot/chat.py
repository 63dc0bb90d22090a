"""What every chat adapter asks of the core: answer, reindex, status, and "seen this event?".

Adapters translate platform events into these calls and render what comes back; this
module knows no platform.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from bot.answering import AnswerService, PartialCallback
from bot.app import MentorApp
from bot.errors import NotAllowedError
from bot.history import RunRecord
from bot.reindex import ReindexService
from models import Answer, Course, Question

HELP = (
    "Ask me about the course materials: mention me with your question, for example "
    "\u201cwhat does break do in a loop?\u201d. I answer from the course's pages and link the ones I used."
)

ReportSink = Callable[[Course, RunRecord], Awaitable[None]]


class EventDeduper:
    """Remembers recent event keys, so a redelivered or replayed event is answered once.

    Slack retries an event it thinks was not acknowledged; a resumed Discord gateway
    replays what it sent. Bounded in size and age; only touched on the event loop.
    """

    def __init__(self, max_size: int = 10_000, ttl_seconds: float = 3600.0) -> None:
        self.max_size = max_size
        self.ttl_seconds = ttl_seconds
        self._seen: OrderedDict[str, float] = OrderedDict()

    def first_time(self, key: str) -> bool:
        """True the first time a key is offered (within the TTL), False for every repeat."""
        now = time.monotonic()
        while self._seen and (len(self._seen) >= self.max_size or next(iter(self._seen.values())) < now - self.ttl_seconds):
            self._seen.popitem(last=False)
        if key in self._seen:
            return False
        self._seen[key] = now
        return True


class ChatCommands:
    """The platform-neutral commands: `ask`, `reindex`, `status`."""

    def __init__(self, mentor: MentorApp) -> None:
        self.mentor = mentor
        self.answers = AnswerService(mentor, mentor.offloader)
        self.reindexer = ReindexService(mentor)
        self.deduper = EventDeduper()
        self.report_sinks: list[ReportSink] = []
        """Where scheduled runs are reported; platforms add theirs, `mentor serve` wires them to the schedule."""

    def course_for(self, keys: list[str], mapping: dict[str, str]) -> str | None:
        """The course of the first key (channel, then guild or workspace) that the map names."""
        return next((mapping[key] for key in keys if key in mapping), None)

    async def ask(self, question: Question, on_partial: PartialCallback | None = None) -> Answer:
        return await self.answers.answer(question, on_partial)

    async def reindex(self, course: str | None, requested_by: str, *, allowed: bool) -> RunRecord:
        if not allowed:
            raise NotAllowedError("Only instructors can reindex the course materials.")
        # An unknown course is refused by the service itself, on its worker thread.
        return await self.reindexer.reindex_async(course, "slash command", requested_by)

    async def status(self) -> str:
        return await self.mentor.offloader.run(self._status_text)

    def _status_text(self) -> str:
        model = self.mentor.model_status()
        lines = [f"Model: {model.name}" + (" (the small demo model, not the production one)" if model.demo else "")]
        if model.problem:
            lines.append("The model is not ready, so answers show the best passages only.")
        for course in self.mentor.status():
            line = f"{course.course.name}: {course.documents} documents, {course.chunks} chunks"
            if course.last_ingest_at:
                line += f", last ingest {course.last_ingest_at:%Y-%m-%d %H:%M} UTC"
            if course.running:
                line += f"; {course.running.describe()}"
            lines.append(line)
        return "\n".join(lines)
