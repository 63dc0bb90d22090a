"""What every chat adapter asks of the core: answer, reindex, status, and "seen this event?".

Adapters translate platform events into these calls and render what comes back; this
module knows no platform.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from sqlalchemy.exc import SQLAlchemyError

from bot.app import MentorApp
from bot.config.sections import ChannelRoute
from bot.errors import (
    BusyError,
    NotAllowedError,
    RateLimitedError,
    SearchUnavailableError,
)
from bot.ops.metrics import Metrics
from bot.service.answering import Admission, AnswerService, PartialCallback
from bot.service.ask_ta import TaRequests
from bot.service.channels import route_for
from bot.service.dedupe import EventDeduper, MemoryDeduper
from bot.service.digest import DigestSink
from bot.service.escalation import EscalationService
from bot.service.fair_line import PositionCallback
from bot.service.notices import SEARCH_DOWN
from bot.service.reindex import ReindexService, ReportSink
from bot.service.repeats import RepeatFinder
from bot.service.student_limits import StudentLimits
from bot.store.history import RunRecord
from bot.store.pending import PendingQuestions
from bot.store.question_log import Vote
from models import Answer, Question
from rag.errors import IndexOperationError, IndexUnavailableError

log = logging.getLogger(__name__)
question_log = logging.getLogger("mentor.questions")

HELP = (
    "Ask me about the course materials: mention me with your question, for example "
    "\u201cwhat does break do in a loop?\u201d. I answer from the course's pages and link the ones I used."
)


class ChatCommands:
    """The platform-neutral commands: `ask`, `reindex`, `status`."""

    def __init__(self, mentor: MentorApp, metrics: Metrics | None = None, deduper: EventDeduper | None = None) -> None:
        self.mentor = mentor
        self.metrics = metrics or Metrics()
        self.answers = AnswerService(mentor, mentor.offloader, _student_limits(mentor))
        self.metrics.watch_queue(
            lambda: self.answers.waiting + mentor.offloader.admitted, lambda: mentor.offloader.reindexes.admitted
        )
        self.reindexer = ReindexService(mentor, self.metrics)
        self.questions = mentor.question_log
        self.repeats = RepeatFinder(mentor.embedder, self.questions, mentor.settings.answer)
        self.pending = PendingQuestions(mentor.settings.pending_path)
        """Questions taken and not yet answered: what a crash cut off is answered at the next start."""
        self.deduper = deduper or MemoryDeduper()
        self.escalations = EscalationService(mentor)
        """TA queues and students' threads register here; a declined question goes to its course's TAs."""
        self.ta_requests = TaRequests(self.escalations)
        """A student's own request for a TA: a button, `@mentor ask a TA`, or a 👎 where the course wants it."""
        self.report_sinks: list[ReportSink] = []
        """Where scheduled runs are reported; platforms add theirs, `mentor serve` wires them to the schedule."""
        self.digest_sinks: list[DigestSink] = []
        """Where the instructors' digests are posted, the same way."""

    def course_for(self, keys: list[str], mapping: Mapping[str, ChannelRoute]) -> str | None:
        """The course of the first key (channel, then guild or workspace) that the map names a course for."""
        return route_for(keys, mapping).course

    async def admit(self, question: Question) -> Admission:
        """Let a question into the line, or raise `RateLimitedError` or `LineFullError`; the adapter
        calls this before it shows anything, so a refusal is the only reply (or, told once, none)."""
        try:
            return await self.answers.admit(question)
        except BaseException as exc:
            self.metrics.asked(self._course_of(question), question.platform)
            self._refused(question, exc)
            raise

    async def ask(
        self,
        question: Question,
        on_partial: PartialCallback | None = None,
        *,
        admission: Admission | None = None,
        on_position: PositionCallback | None = None,
    ) -> Answer:
        """Answer, record the question (its id goes on the answer, for feedback), count and log it.

        Without an `admission` the question is admitted here. `on_position` hears how many
        questions are ahead of it while it waits.
        """
        admission = admission or await self.admit(question)
        course = self._course_of(question)
        self.metrics.asked(course, question.platform)
        try:
            answer = await self.answers.answer(question, on_partial, after=self._record, admission=admission, on_position=on_position)
        except (IndexUnavailableError, IndexOperationError) as exc:
            self.metrics.failed(course, question.platform, "index_unavailable")
            self._log(question, course, "index_unavailable", None, problem=str(exc))
            raise SearchUnavailableError(SEARCH_DOWN) from exc
        except BaseException as exc:
            self._refused(question, exc)
            raise
        self.metrics.answered(course, question.platform, answer)
        self._log(question, course, answer.kind, answer)
        return answer

    def _course_of(self, question: Question) -> str:
        """The course metrics and logs name: the question's, else the default one."""
        return question.course or self.mentor.settings.course_names()[0]

    def _refused(self, question: Question, exc: BaseException) -> None:
        course = self._course_of(question)
        outcome = "rate_limited" if isinstance(exc, RateLimitedError) else "busy" if isinstance(exc, BusyError) else "error"
        self.metrics.failed(course, question.platform, outcome)
        self._log(question, course, outcome, None)

    def _record(self, question: Question, answer: Answer) -> Answer:
        """On the worker thread; a log that cannot be written costs the feedback link, never the answer."""
        course = self.mentor.course(question.course).name
        vector = self.repeats.vector(question)
        answer = answer.model_copy(update={"asked_before": self.repeats.earlier(question, course, vector)})
        try:
            question_id = self.questions.record(question, course, answer, vector)
        except SQLAlchemyError as exc:
            log.warning("could not record a question in the state database (%s); its answer goes out without feedback", exc)
            return answer
        return answer.model_copy(update={"question_id": question_id})

    def _log(self, question: Question, course: str, outcome: str, answer: Answer | None, problem: str | None = None) -> None:
        """One line per question for the operator; the student's words only when `log.question_text` is on."""
        fields: dict[str, object] = {"course": course, "platform": question.platform, "outcome": outcome}
        if problem:
            fields["problem"] = problem
        if answer is not None:
            fields |= {
                "question_id": answer.question_id,
                "grounded": answer.grounded,
                "citations": len(answer.citations),
                "model": answer.model,
                "retrieve_ms": round(answer.timings.retrieve_ms, 1),
                "first_token_ms": None if answer.timings.first_token_ms is None else round(answer.timings.first_token_ms, 1),
                "generate_ms": round(answer.timings.generate_ms, 1),
            }
        if self.mentor.settings.log.question_text:
            fields["question"] = question.text
        question_log.info("question", extra={"fields": fields})

    async def link_answer(self, answer: Answer, platform: str, messages: list[str]) -> None:
        """Tie the platform messages that carry an answer to its question, so reactions on them count as feedback."""
        if answer.question_id is None or not messages:
            return
        try:
            await self.mentor.offloader.run(self.questions.link_messages, answer.question_id, platform, messages)
        except SQLAlchemyError as exc:
            log.warning("could not link answer %s to its messages (%s); votes on it will not count", answer.question_id, exc)

    async def feedback(self, question_id: int, platform: str, user: str, vote: Vote, *, withdrawn: bool = False) -> bool:
        """Record (or, for a removed reaction, take back) a vote; False when the answer is not one of ours."""
        return self._counted(await self._stored_vote(self._vote, question_id, platform, user, vote, withdrawn), vote, withdrawn)

    async def feedback_on_message(self, platform: str, message: str, user: str, vote: Vote, *, withdrawn: bool = False) -> bool:
        """A reaction on a platform message: counted when the message carries one of our answers."""

        def vote_on_message() -> str | None:
            question_id = self.questions.question_for_message(platform, message)
            return None if question_id is None else self._vote(question_id, platform, user, vote, withdrawn)

        return self._counted(await self._stored_vote(vote_on_message), vote, withdrawn)

    async def _stored_vote(self, store: Callable[..., str | None], *arguments: object) -> str | None:
        """A vote is worth a log line, not a crash, when the state database is down."""
        try:
            return await self.mentor.offloader.run(store, *arguments)
        except SQLAlchemyError as exc:
            log.warning("could not store a vote (%s); it is lost", exc)
            return None

    def _vote(self, question_id: int, platform: str, user: str, vote: Vote, withdrawn: bool) -> str | None:
        """On the worker thread: the vote stored (or taken back); the answer's course, None when unknown."""
        asked = self.questions.get(question_id)
        if asked is None:
            return None
        if withdrawn:
            self.questions.withdraw_feedback(question_id, platform, user, vote)
        else:
            self.questions.set_feedback(question_id, platform, user, vote)
        return asked.course

    def _counted(self, course: str | None, vote: Vote, withdrawn: bool) -> bool:
        """Count a new vote in the metrics; True when the answer was ours."""
        if course is not None and not withdrawn:
            self.metrics.voted(course, vote)
        return course is not None

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
            lines.append("The model is not ready, so answers quote the course materials instead.")
        for course in self.mentor.status():
            line = f"{course.course.name}: {course.documents} documents, {course.chunks} chunks"
            if course.last_ingest_at:
                line += f", last ingest {course.last_ingest_at:%Y-%m-%d %H:%M} UTC"
            if course.running:
                line += f"; {course.running.describe()}"
            if course.next_release:
                at, files = course.next_release
                line += f"; next release {at:%Y-%m-%d %H:%M %Z} ({len(files)} file(s))"
            restricted = [f"{assignment.name}: {mode}" for assignment, mode in course.assignment_modes() if mode != "full"]
            if restricted:
                line += f"; assignment policies now: {', '.join(restricted)}"
            lines.append(line)
        return "\n".join(lines)


def _student_limits(mentor: MentorApp) -> StudentLimits:
    """Counted in the Redis the replicas share for dedupe, when there is one, so every replica sees a student's questions."""
    dedupe = mentor.settings.dedupe
    url = dedupe.redis_url.get_secret_value() if dedupe.backend == "redis" and dedupe.redis_url else None
    return StudentLimits(mentor.settings.answer.per_student_per_minute, url)
