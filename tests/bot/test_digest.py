"""The instructors' digest: a period's counts, repeats, pages and 👎, posted once per firing across replicas."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from pathlib import Path

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger

from bot.app import MentorApp
from bot.config.sections import AnswerSettings
from bot.config.settings import Settings
from bot.service.digest import DigestScheduler, period
from bot.service.repeats import RepeatFinder
from bot.store.schedule_claims import ScheduleClaims
from models import Answer, Citation, Course, Question
from rag.embedder import SentenceTransformerEmbedder
from tests.conftest import EXAMPLE_COURSE, record_outcomes, until


def test_the_digest_counts_the_week_and_one_replica_posts_it(embedder: SentenceTransformerEmbedder, tmp_path: Path) -> None:
    course = Course(name="cs101", sources=(EXAMPLE_COURSE,), report_channel="CREPORTS")
    mentor = MentorApp(Settings(data_dir=tmp_path, courses=[course], answer=AnswerSettings()))
    log = mentor.question_log
    finder = RepeatFinder(embedder, log, mentor.settings.answer)
    loops = [Citation(n=1, title="Loops", source="loops.md")]
    for n, text in enumerate(["What does break do in a loop?", "what does break do in a loop", "How do I make an empty set?"]):
        question = Question(text=text, platform="slack", asker=f"U{n}", link=f"https://x.slack.com/archives/C1/p{n}")
        question_id = log.record(question, "cs101", Answer(text="…", grounded=True, citations=loops), finder.vector(question))
    log.set_feedback(question_id, "slack", "U9", -1)
    log.record(Question(text="When is the midterm?", platform="discord", asker="U7"), "cs101", Answer(text="…", grounded=False, kind="not_covered"))

    posted: list[tuple[str, str]] = []

    async def sink(to: Course, text: str) -> None:
        posted.append((to.name, text))

    async def scenario() -> list[object]:
        when = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=2)
        replicas = [DigestScheduler(mentor, finder, [course], ScheduleClaims(mentor.database)) for _ in range(2)]
        outcomes: list[object] = []
        for replica in replicas:
            replica.sinks.append(sink)
            record_outcomes(replica, "post", outcomes)
            replica.start({"cs101": DateTrigger(when)})
        try:
            await until(lambda: len(outcomes) == 2, timeout=60)
        finally:
            for replica in replicas:
                replica.shutdown()
        return outcomes

    try:
        outcomes = asyncio.run(scenario())
    finally:
        mentor.close()
    assert sum(outcome is not None for outcome in outcomes) == 1, "one replica posts each firing"
    ((name, text),) = posted
    assert name == "cs101"
    assert "4 questions, 3 answered from the materials, 1 not covered; 0 sent to the TAs, 0 answered by a TA." in text
    assert "• 2× “What does break do in a loop?” (Loops)" in text
    assert "Pages cited most: Loops (3)" in text
    assert "Answers marked 👎:\n• “How do I make an empty set?”" in text
    assert not any(f"U{n}" in text for n in range(10)), "no student is named"


def test_the_period_is_the_gap_between_firings_a_week_at_most() -> None:
    now = datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc)
    assert period(CronTrigger.from_crontab("0 8 * * 1", timezone=timezone.utc), now) == timedelta(days=7)
    assert period(CronTrigger.from_crontab("0 8 * * *", timezone=timezone.utc), now) == timedelta(days=1)
    assert period(DateTrigger(now), now) == timedelta(days=7)
