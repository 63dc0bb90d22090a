"""Verified answers in the index: kept, edited and deleted at once, carried into a rebuilt index,
counted in the digest; and bad requests refused with our own errors."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.app import MentorApp
from bot.config.sections import ChunkingSettings
from bot.errors import UnknownVerifiedAnswerError, VerifiedAnswerError
from bot.service.digest import build_digest
from bot.service.repeats import RepeatFinder
from bot.service.verified import VerifiedAnswers
from models import Answer, Escalation, Question, ReplyPlace
from tests.conftest import example_course_app

QUESTION = "Who won the 1998 football world cup final?"
ANSWER = "France won the 1998 football world cup final, 3-0 against Brazil."


@pytest.fixture
def mentor(tmp_path: Path):
    app = example_course_app(tmp_path)
    yield app
    app.close()


def answered(escalation_id: int = 1) -> Escalation:
    return Escalation(
        id=escalation_id, course="cs101", question=QUESTION, reason="not covered", place=ReplyPlace(platform="discord", channel="1"),
        student="Student 0A1B2C", status="answered", answer=ANSWER, answered_by="Grace Hopper", created_at=datetime.now(timezone.utc),
    )


def ta_hits(mentor: MentorApp, query: str = "Which team won the world cup final in 1998?") -> list[str]:
    return [hit.text for hit in mentor.search(query).hits if hit.title.startswith("TA answer, ")]


def test_a_kept_answer_is_found_and_an_edit_or_delete_reaches_the_index_at_once(mentor: MentorApp) -> None:
    verified = VerifiedAnswers(mentor)
    kept = verified.keep(answered(), "Grace Hopper")
    assert kept.ta == "Grace Hopper" and kept.label() == f"TA answer, {datetime.now(timezone.utc):%Y-%m-%d}"
    [hit] = ta_hits(mentor)
    assert ANSWER in hit and QUESTION in hit
    [best] = mentor.search("Which team won the world cup final in 1998?").hits[:1]
    assert best.title == kept.label() and best.url is None, "the best passage for a similar question, with no link"

    verified.edit(kept.id, "Nobody: this course does not cover football.")
    assert [text for text in ta_hits(mentor) if "Nobody" in text] and not [text for text in ta_hits(mentor) if "France" in text]
    verified.delete(kept.id)
    assert ta_hits(mentor) == [] and mentor.verified.get(kept.id) is None


def test_bad_requests_are_refused_with_our_errors(mentor: MentorApp) -> None:
    verified = VerifiedAnswers(mentor)
    kept = verified.keep(answered(2), None)
    with pytest.raises(UnknownVerifiedAnswerError, match="no verified answer 999"):
        verified.edit(999, "text")
    with pytest.raises(UnknownVerifiedAnswerError, match="mentor verified list"):
        verified.delete(999)
    with pytest.raises(VerifiedAnswerError, match="empty"):
        verified.edit(kept.id, "   ")
    assert mentor.verified.get(kept.id).answer == ANSWER, "a refused edit changes nothing"


def test_a_rebuilt_index_still_holds_the_verified_answers(mentor: MentorApp) -> None:
    kept = VerifiedAnswers(mentor).keep(answered(3), None)
    settings = mentor.settings.model_copy(update={"chunking": ChunkingSettings(size=mentor.settings.chunking.size, overlap=mentor.settings.chunking.overlap + 8)})
    mentor.close()
    rebuilt = MentorApp(settings)  # another chunking: the next ingest builds a new generation and swaps the alias
    try:
        report = rebuilt.ingest("cs101")
        assert report.rebuilt
        [hit] = ta_hits(rebuilt)
        assert ANSWER in hit
        assert [v.id for v in rebuilt.verified.newest_first("cs101")] == [kept.id]
    finally:
        rebuilt.close()


def test_the_digest_reports_the_median_time_to_a_human_answer(mentor: MentorApp) -> None:
    log = mentor.question_log
    declined = Answer(text="-", grounded=False, kind="not_covered")
    for n, waited in enumerate([60.0, 600.0, 1200.0]):
        asked = log.record(Question(text=f"question {n}", platform="discord", asker=str(n)), "cs101", declined)
        log.record_human_answer(asked, log.get(asked).asked_at.timestamp() + waited)
    log.record(Question(text="never answered", platform="discord"), "cs101", declined)
    now = datetime.now(timezone.utc)
    digest = build_digest(log, mentor.escalations, RepeatFinder(mentor.embedder, log, mentor.settings.answer), "cs101", now - timedelta(days=7), now + timedelta(minutes=1))
    assert digest.median_human_answer_s == pytest.approx(600.0)
    assert "(median time to a human answer: 10 min)." in digest.to_text()
