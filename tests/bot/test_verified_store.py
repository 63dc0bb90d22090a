"""The verified answers' store and the time to a human answer, on SQLite and a real PostgreSQL."""

from __future__ import annotations

import pytest

from bot.store.database import Database
from bot.store.escalations import EscalationStore, NewEscalation
from bot.store.question_log import QuestionLog
from bot.store.verified import VerifiedStore
from models import Answer, Question, ReplyPlace


def test_a_verified_answer_is_kept_once_per_escalation_and_listed_newest_first(database: Database) -> None:
    store = VerifiedStore(database)
    first = store.add("cs101", "When is the midterm?", "Week 8, in class.", "Grace", escalation_id=7, now=1_764_547_200)
    again = store.add("cs101", "When is the midterm?", "Week 8, in class.", "Grace", escalation_id=7)
    other = store.add("cs202", "Is there a lab on Friday?", "No.", None, now=1_764_633_600)
    assert again == first and first.label() == "TA answer, 2025-12-01"
    assert VerifiedStore(database).get(first.id) == first  # another replica, or after a restart
    assert [v.id for v in store.newest_first()] == [other.id, first.id]
    assert [v.id for v in store.newest_first("cs101")] == [first.id] and other.ta is None


def test_edit_and_delete_return_the_row_or_none_for_an_unknown_id(database: Database) -> None:
    store = VerifiedStore(database)
    kept = store.add("cs101", "When is the midterm?", "Week 8.", "Grace")
    edited = store.edit(kept.id, "Week 9, moved.", now=1_764_720_000)
    assert edited is not None and edited.answer == "Week 9, moved." and edited.edited_at is not None
    assert edited.answered_at == kept.answered_at
    assert store.edit(kept.id + 100, "x") is None and store.delete(kept.id + 100) is None
    assert store.delete(kept.id) == edited and store.get(kept.id) is None


def test_the_time_to_a_human_answer_is_recorded_once_and_listed_with_the_escalation(database: Database) -> None:
    log = QuestionLog(database)
    asked = log.record(Question(text="When is the midterm?", platform="discord", asker="1"), "cs101", Answer(text="-", grounded=False, kind="not_covered"))
    asked_at = log.get(asked).asked_at.timestamp()
    escalations = EscalationStore(database)
    opened = escalations.open(
        NewEscalation(course="cs101", question="When is the midterm?", reason="not covered", place=ReplyPlace(platform="discord", channel="9"),
                      student="Student 0A1B2C", question_id=asked)
    )
    assert escalations.get(opened.id).human_answer_s is None
    escalations.close(opened.id, "answered", "Grace", "Week 8.")
    assert log.record_human_answer(asked, asked_at + 720) == pytest.approx(720)
    assert log.record_human_answer(asked, asked_at + 900) is None  # delivered once: the first time stands
    assert log.get(asked).human_answer_s == pytest.approx(720)
    assert [(e.id, e.human_answer_s) for e in escalations.answered_ones("cs101")] == [(opened.id, pytest.approx(720))]
    assert escalations.answered_ones("cs202") == [] and escalations.open_ones("cs101") == []
