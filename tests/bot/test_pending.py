"""Questions taken and not yet answered, in a real SQLite file: what a crash leaves is answered once at the next start."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from bot.store.pending import MAX_ATTEMPTS, PendingQuestions


def test_what_a_crash_left_is_handed_to_the_next_start_and_redeliveries_are_recognised(tmp_path: Path) -> None:
    path = tmp_path / "pending.sqlite"
    before = PendingQuestions(path)
    assert before.take("slack:T1:Ev1", "slack", {"event": {"text": "what is a loop?"}})
    assert before.take("slack:T1:Ev2", "slack", {"event": {"text": "what is a set?"}})
    assert not before.take("slack:T1:Ev1", "slack", {}), "a redelivery while it is being answered"
    before.note("slack:T1:Ev1", placeholder="1700.0001")
    before.done("slack:T1:Ev2")
    # The process dies here: Ev1 was taken, never answered.

    after = PendingQuestions(path)
    (left,) = after.left_over("slack")
    assert left.key == "slack:T1:Ev1" and left.payload == {"event": {"text": "what is a loop?"}, "placeholder": "1700.0001"}
    assert not after.take("slack:T1:Ev1", "slack", {}), "Slack redelivering it now changes nothing: it is being answered"
    assert after.left_over("discord") == []
    after.done("slack:T1:Ev1")
    assert PendingQuestions(path).left_over("slack") == []


def test_another_store_on_the_same_file_does_not_swallow_a_question(tmp_path: Path) -> None:
    """Two replicas in one process (tests do this) each answer what they are given."""
    path = tmp_path / "pending.sqlite"
    first, second = PendingQuestions(path), PendingQuestions(path)
    assert first.take("slack:T1:Ev1", "slack", {})
    assert second.take("slack:T1:Ev1", "slack", {})


def test_a_question_that_keeps_crashing_the_service_or_is_a_day_old_is_dropped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "pending.sqlite"
    PendingQuestions(path).take("slack:T1:poison", "slack", {})
    PendingQuestions(path).take("slack:T1:old", "slack", {})
    with sqlite3.connect(path) as db:
        db.execute("UPDATE pending SET taken_at = taken_at - 90000 WHERE key = 'slack:T1:old'")
    for attempt in range(MAX_ATTEMPTS):
        assert [item.key for item in PendingQuestions(path).left_over("slack")] == ["slack:T1:poison"], attempt
    with caplog.at_level(logging.WARNING, logger="bot.store.pending"):
        assert PendingQuestions(path).left_over("slack") == []
    dropped = [record.getMessage() for record in caplog.records if "dropping question" in record.getMessage()]
    assert sorted(dropped) == [
        "slack: dropping question slack:T1:old left unanswered by a crash (0 attempts, taken 90000 s ago)",
        "slack: dropping question slack:T1:poison left unanswered by a crash (3 attempts, taken 0 s ago)",
    ]
