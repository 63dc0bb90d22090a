"""The instructors' digest: what a course's students asked over a period, posted to its report channel.

Counts (asked, answered, declined, sent to the TAs, answered by a TA), the questions asked again and again with their pages,
the pages cited most, and the questions whose answers got a 👎. It names no student: the
question log keeps who asked only as a platform id, and the digest never prints it.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from statistics import median

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger

from bot.app import MentorApp
from bot.config.settings import cron_trigger
from bot.service.notices import took_s
from bot.service.repeats import RepeatCluster, RepeatFinder
from bot.store.escalations import EscalationStore
from bot.store.question_log import QuestionLog
from bot.store.schedule_claims import ScheduleClaims, due_slot
from models import Course

log = logging.getLogger(__name__)

TOP = 5


@dataclass(frozen=True)
class Digest:
    course: str
    since: datetime
    until: datetime
    outcomes: Counter[str]
    repeats: list[RepeatCluster]
    pages: list[tuple[str, int]]
    downvoted: list[str]
    escalated: int = 0
    answered_by_ta: int = 0
    median_human_answer_s: float | None = None
    """The median time from a question to its TA's answer reaching the student, over the period's questions."""

    @property
    def asked(self) -> int:
        return sum(self.outcomes.values())

    def to_text(self) -> str:
        """Plain text with bullets, which Slack and Discord both show as written."""
        answered = self.outcomes["answer"] + self.outcomes["quote"] + self.outcomes["retrieval_only"]
        lines = [
            f"Digest for {self.course}, {self.since:%b} {self.since.day} – {self.until:%b} {self.until.day}: "
            f"{self.asked} questions, {answered} answered from the materials, {self.outcomes['not_covered']} not covered; "
            f"{self.escalated} sent to the TAs, {self.answered_by_ta} answered by a TA"
            + (f" (median time to a human answer: {took_s(self.median_human_answer_s)})." if self.median_human_answer_s is not None else ".")
        ]
        if self.repeats:
            lines.append("Asked again and again:")
            lines += [
                f"• {cluster.count}× “{cluster.question}”" + (f" ({', '.join(label for label, _ in cluster.pages)})" if cluster.pages else "")
                for cluster in self.repeats[:TOP]
            ]
        if self.pages:
            lines.append("Pages cited most: " + ", ".join(f"{label} ({count})" for label, count in self.pages))
        if self.downvoted:
            lines.append("Answers marked 👎:")
            lines += [f"• “{text}”" for text in self.downvoted]
        if not self.asked:
            lines.append("Nobody asked anything this period.")
        return "\n".join(lines)


def build_digest(
    questions: QuestionLog, escalations: EscalationStore, repeats: RepeatFinder, course: str, since: datetime, until: datetime
) -> Digest:
    """On a worker thread: one period's digest of one course."""
    asked = questions.between(course, since.timestamp(), until.timestamp())
    escalated, answered_by_ta = escalations.counted(course, since.timestamp(), until.timestamp())
    pages = Counter(citation.label for question in asked for citation in question.citations)
    weeks = max(1, round((until - since).days / 7))
    human = [question.human_answer_s for question in asked if question.human_answer_s is not None]
    return Digest(
        course=course,
        since=since,
        until=until,
        outcomes=Counter(question.kind for question in asked),
        repeats=[cluster for cluster in repeats.clusters(course, weeks) if cluster.last_asked >= since],
        pages=pages.most_common(TOP),
        downvoted=[question.text for question in questions.downvoted(course, since.timestamp(), until.timestamp())],
        escalated=escalated,
        answered_by_ta=answered_by_ta,
        median_human_answer_s=median(human) if human else None,
    )


DigestSink = Callable[[Course, str], Awaitable[None]]
"""Posts a digest's text to the course's `report_channel` (a chat adapter provides it)."""


class DigestScheduler:
    """Posts each course's digest on its `digest_schedule` while `mentor serve` runs; each firing is
    claimed in the shared database first, so one replica posts it."""

    def __init__(self, mentor: MentorApp, repeats: RepeatFinder, courses: list[Course], claims: ScheduleClaims) -> None:
        self.mentor = mentor
        self.repeats = repeats
        self.courses = [course for course in courses if course.digest_schedule and course.report_channel]
        self.claims = claims
        self.sinks: list[DigestSink] = []
        self._scheduler = AsyncIOScheduler(timezone=timezone.utc)

    def start(self, triggers: dict[str, BaseTrigger] | None = None) -> None:
        """`triggers` replaces a course's cron (tests fire at once)."""
        for course in self.courses:
            trigger = (triggers or {}).get(course.name) or cron_trigger(course, course.digest_schedule, "digest_schedule")
            self._scheduler.add_job(self.post, trigger, args=[course, trigger], id=course.name, name=f"digest {course.name}", coalesce=True)
        if self.courses:
            self._scheduler.start()

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    async def post(self, course: Course, trigger: BaseTrigger) -> Digest | None:
        """The period since the previous firing (a week for the default schedule), posted by one replica."""
        now = datetime.now(timezone.utc)
        slot = due_slot(trigger, timedelta(minutes=10)) or now
        if claimed_by := await self.mentor.offloader.run(self.claims.claim, f"digest {course.name}", slot):
            log.info("the digest of %s is posted by %s", course.name, claimed_by)
            return None
        digest = await self.mentor.offloader.run(
            build_digest, self.mentor.question_log, self.mentor.escalations, self.repeats, course.name, now - period(trigger, now), now
        )
        for sink in self.sinks:
            try:
                await sink(course, digest.to_text())
            except Exception:  # one platform's outage must not keep the digest from the others, or stop the schedule
                log.exception("could not post the digest of %s", course.name)
        return digest


def period(trigger: BaseTrigger, now: datetime) -> timedelta:
    """How long the digest covers: the gap between two firings of its schedule, a week at most."""
    first = trigger.get_next_fire_time(None, now)
    second = trigger.get_next_fire_time(first, first + timedelta(seconds=1)) if first else None
    return min(second - first, timedelta(days=7)) if first and second else timedelta(days=7)
