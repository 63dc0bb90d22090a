"""Escalating to a human: a question the bot could not answer goes to its course's TA queue, and a
TA's answer goes back to the student's own thread, whatever platform each side is on.

Platform-neutral: the Slack adapter (or Discord's) implements `TaQueue`; each chat adapter
implements `StudentThread` for its students. The state lives in `EscalationStore`, so a
TA's click after a restart, or on another replica, finds the question.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.exc import SQLAlchemyError

from bot.app import MentorApp
from bot.errors import BusyError, PlatformError, ThreadGoneError
from bot.service.notices import ESCALATED, TA_REQUEST_REPLIES, dismissed_note_heading, ta_answer_heading
from bot.service.verified import VerifiedAnswers
from bot.store.escalations import EscalationStore, NewEscalation, Opened
from models import Answer, Escalation, EscalationPolicy, Question, ReplyPlace
from rag.errors import RagError

log = logging.getLogger(__name__)

DECLINED_REASON = "not covered by the course materials"


class TaQueue(Protocol):
    """Where TAs see escalations: one message per question, with buttons.

    Example: `ref = await queue.post(escalation, "C0TAQUEUE")`, later `await queue.show_closed(closed)`.
    """

    async def post(self, escalation: Escalation, channel: str, *, reposted: bool = False) -> str:
        """Post the question to the queue channel (`reposted`: again, as still waiting); returns the message's reference."""
        ...

    async def show_closed(self, escalation: Escalation) -> None:
        """Turn the queue message into "Answered by X, 12 min" (its buttons gone)."""
        ...


class StudentThread(Protocol):
    """Posts into a student's thread on one platform, with every mention disabled."""

    async def post(self, place: ReplyPlace, heading: str, body: str) -> None:
        """Raises `ThreadGoneError` when the thread was deleted or archived."""
        ...


@dataclass(frozen=True)
class Closing:
    """What a TA's click came to: `won` (this TA closed it), else the row as it stands (None: unknown id)."""

    escalation: Escalation | None
    won: bool


class EscalationService:
    """`escalate` a question, then `answer`, `dismiss` or `claim` it on a TA's click."""

    def __init__(self, mentor: MentorApp) -> None:
        self.mentor = mentor
        self.queues: dict[str, TaQueue] = {}
        """By platform name: who posts to a TA queue on that platform (`EscalationPolicy.ta_queue_platform`)."""
        self.threads: dict[str, StudentThread] = {}
        """By platform name: who posts back into a student's thread there."""

    @property
    def store(self) -> EscalationStore:
        return self.mentor.escalations

    async def after_answer(self, question: Question, answer: Answer, place: ReplyPlace, student_name: str | None = None) -> Opened | None:
        """A declined question escalates on its own when its course has a TA queue; asked again in its
        thread while still open, the student is told it is with the TAs already."""
        if answer.kind != "not_covered":
            return None
        opened = await self.escalate(question, answer, DECLINED_REASON, place, student_name)
        if opened is not None and not opened.created:
            await self._tell_student(place, TA_REQUEST_REPLIES["already"], "")
        return opened

    async def escalate(
        self, question: Question, answer: Answer, reason: str, place: ReplyPlace, student_name: str | None = None
    ) -> Opened | None:
        """Post the question to its course's TA queue; None when the course has none, or the store is down
        (the student has their answer already: losing the escalation must not cost them more). A question
        open already (asked twice, or on two replicas at once) is neither stored nor posted again: `created`
        is False and the escalation is the open one."""
        try:
            found = await self.mentor.offloader.run(self._open, question, answer, reason, place, student_name)
        except (SQLAlchemyError, BusyError) as exc:
            log.warning("could not escalate a question of %s to its TAs (%s)", question.course, exc)
            return None
        if found is None:
            return None
        opened, policy = found
        escalation = opened.escalation
        if not opened.created:
            return opened
        try:
            ref = await self.queues[policy.ta_queue_platform].post(escalation, policy.ta_queue or "")
            await self.mentor.offloader.run(self.store.set_queue_message, escalation.id, ref)
        except (PlatformError, SQLAlchemyError) as exc:  # kept open in the store: `mentor escalations` lists it
            log.warning("escalation %s of %s is stored but not in the TA queue: %s", escalation.id, escalation.course, exc)
            return opened
        await self._tell_student(escalation.place, ESCALATED, "")
        return Opened(escalation.model_copy(update={"queue_ref": ref}), created=True)

    def _open(
        self, question: Question, answer: Answer, reason: str, place: ReplyPlace, student_name: str | None
    ) -> tuple[Opened, EscalationPolicy] | None:
        course = self.mentor.course(question.course)
        policy = course.escalation
        if not policy.ta_queue:
            return None
        if policy.ta_queue_platform not in self.queues:
            log.warning("course %s sends questions to a %s TA queue, but %s is not connected", course.name, *[policy.ta_queue_platform] * 2)
            return None
        asker = f"{question.platform}:{question.asker or 'anonymous'}"
        student = self.store.pseudonym(course.name, asker) if policy.pseudonymous else (student_name or question.asker or "a student")
        draft = None if answer.kind == "not_covered" else answer.text
        new = NewEscalation(
            course=course.name, question=question.text, reason=reason, place=place, student=student,
            context=question.history, draft=draft, sources=tuple(answer.citations), question_id=answer.question_id,
        )
        return self.store.open_if_new(new), policy

    async def answer(self, escalation_id: int, text: str, ta: str) -> Closing:
        """The first TA's answer goes to the student once; a later one is refused (`won` False)."""
        closing = await self._close(escalation_id, "answered", ta, text)
        if not closing.won or closing.escalation is None:
            return closing
        closed = closing.escalation
        policy = (await self.mentor.offloader.run(self.mentor.course, closed.course)).escalation
        shown_ta = ta if policy.name_ta else None
        problem = await self._tell_student(closed.place, ta_answer_heading(shown_ta), text)
        if problem:
            await self.mentor.offloader.run(self.store.note_delivery_problem, closed.id, problem)
            closed = closed.model_copy(update={"delivery_problem": problem})
        await self._keep(closed, shown_ta, delivered=problem is None)
        await self._show_closed(closed)
        return Closing(closed, True)

    async def _keep(self, closed: Escalation, shown_ta: str | None, delivered: bool) -> None:
        """Record the time to a human answer and keep the answer as a verified one (even when its thread is gone).

        The student has the answer already: a store or index that fails here is logged, never raised.
        """
        try:
            if delivered and closed.question_id is not None:
                await self.mentor.offloader.run(self.mentor.question_log.record_human_answer, closed.question_id)
            await self.mentor.offloader.retrieve(VerifiedAnswers(self.mentor).keep, closed, shown_ta)
        except (SQLAlchemyError, BusyError, RagError) as exc:
            log.warning("the TA's answer to escalation %s was not kept as a verified answer: %s", closed.id, exc)

    async def dismiss(self, escalation_id: int, ta: str, note: str | None = None) -> Closing:
        """Take the question off the queue; an optional note goes to the student (none: the student is not told)."""
        closing = await self._close(escalation_id, "dismissed", ta, note or None)
        if not closing.won or closing.escalation is None:
            return closing
        closed = closing.escalation
        problem = await self._tell_student(closed.place, dismissed_note_heading(), note) if note else None
        if problem:
            await self.mentor.offloader.run(self.store.note_delivery_problem, closed.id, problem)
            closed = closed.model_copy(update={"delivery_problem": problem})
        await self._show_closed(closed)
        return Closing(closed, True)

    async def claim(self, escalation_id: int, ta: str) -> Closing:
        """"Answer in thread": this TA's next reply in the queue message's thread is the answer."""
        claimed = await self.mentor.offloader.run(self.store.claim, escalation_id, ta)
        if claimed is not None:
            return Closing(claimed, True)
        return Closing(await self.mentor.offloader.run(self.store.get, escalation_id), False)

    async def repost_stale(self, now: float | None = None) -> int:
        """Post questions open past their course's `repost_after_minutes` to the queue again, once each
        (across replicas: the store hands each one to a single caller). Returns how many."""
        stale = await self.mentor.offloader.run(self._stale, time.time() if now is None else now)
        for escalation, policy in stale:
            try:
                ref = await self.queues[policy.ta_queue_platform].post(escalation, policy.ta_queue or "", reposted=True)
                await self.mentor.offloader.run(self.store.set_queue_message, escalation.id, ref)
            except (PlatformError, SQLAlchemyError) as exc:
                log.warning("could not re-post escalation %s to its TA queue: %s", escalation.id, exc)
        return len(stale)

    def _stale(self, now: float) -> list[tuple[Escalation, EscalationPolicy]]:
        stale = []
        for name in self.mentor.settings.course_names():
            policy = self.mentor.course(name).escalation
            if not policy.ta_queue or not policy.repost_after_minutes or policy.ta_queue_platform not in self.queues:
                continue
            for escalation in self.store.open_ones(name):
                due = not escalation.reposted and waited_s(escalation, now) >= policy.repost_after_minutes * 60
                if due and self.store.mark_reposted(escalation.id):
                    stale.append((escalation, policy))
        return stale

    async def by_queue_message(self, queue_ref: str) -> Escalation | None:
        return await self.mentor.offloader.run(self.store.by_queue_message, queue_ref)

    async def get(self, escalation_id: int) -> Escalation | None:
        return await self.mentor.offloader.run(self.store.get, escalation_id)

    async def _close(self, escalation_id: int, status: str, ta: str, text: str | None) -> Closing:
        closed = await self.mentor.offloader.run(self.store.close, escalation_id, status, ta, text)
        if closed is not None:
            return Closing(closed, True)
        return Closing(await self.mentor.offloader.run(self.store.get, escalation_id), False)

    async def _tell_student(self, place: ReplyPlace, heading: str, body: str) -> str | None:
        """Post to the student; the problem, worded for the TA, when the thread is gone or unreachable."""
        thread = self.threads.get(place.platform)
        if thread is None:
            return f"{place.platform} is not connected to this service"
        try:
            await thread.post(place, heading, body)
        except ThreadGoneError as exc:
            return str(exc)
        return None

    async def _show_closed(self, escalation: Escalation) -> None:
        policy = (await self.mentor.offloader.run(self.mentor.course, escalation.course)).escalation
        queue = self.queues.get(policy.ta_queue_platform)
        if queue is not None and escalation.queue_ref:
            await queue.show_closed(escalation)


def waited_s(escalation: Escalation, now: float | None = None) -> float:
    """Seconds from the escalation to its answer (or to now, while it is open)."""
    end = escalation.answered_at.timestamp() if escalation.answered_at else (time.time() if now is None else now)
    return max(0.0, end - escalation.created_at.timestamp())


def escalation_json(escalation: Escalation) -> dict[str, object]:
    """The documented JSON shape (`mentor escalations --json`, `/admin/api/escalations`)."""
    return {
        "id": escalation.id,
        "course": escalation.course,
        "question": escalation.question,
        "platform": escalation.place.platform,
        "student": escalation.student,
        "reason": escalation.reason,
        "created_at": escalation.created_at.isoformat(),
        "waiting_s": round(waited_s(escalation)),
        "in_queue": escalation.queue_ref is not None,
        "status": escalation.status,
        "answered_by": escalation.answered_by,
        "human_answer_s": None if escalation.human_answer_s is None else round(escalation.human_answer_s),
    }
