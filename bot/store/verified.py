"""Verified answers: what a TA answered, kept as the original of the copy the course's index holds.

The index can be rebuilt (a reindex makes a fresh generation); these rows are what it is rebuilt
from (`bot.service.verified`). One per escalation: a retried delivery stores it once.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

from sqlalchemy import Row, delete, insert, select, update

from bot.store.database import Database
from bot.store.tables import verified_answers
from models import VerifiedAnswer


class VerifiedStore:
    """`add` a TA's answer; `get`, `newest_first`, `edit` and `delete` them for instructors."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def add(
        self, course: str, question: str, answer: str, ta: str | None, escalation_id: int | None = None, now: float | None = None
    ) -> VerifiedAnswer:
        """Store one answer; the one already stored when this escalation's answer was kept before."""
        if escalation_id is not None and (kept := self._one(verified_answers.c.escalation_id == escalation_id)):
            return kept
        values = {
            "course": course,
            "escalation_id": escalation_id,
            "question": question,
            "answer": answer,
            "ta": ta,
            "answered_at": time.time() if now is None else now,
        }
        with self.database.engine.begin() as db:
            row = db.execute(insert(verified_answers).values(values).returning(*verified_answers.columns)).one()
        return _verified(row)

    def get(self, verified_id: int) -> VerifiedAnswer | None:
        return self._one(verified_answers.c.id == verified_id)

    def newest_first(self, course: str | None = None, limit: int = 1000) -> list[VerifiedAnswer]:
        """Newest first."""
        query = select(verified_answers).order_by(verified_answers.c.answered_at.desc(), verified_answers.c.id.desc()).limit(limit)
        if course is not None:
            query = query.where(verified_answers.c.course == course)
        with self.database.engine.connect() as db:
            return [_verified(row) for row in db.execute(query).all()]

    def edit(self, verified_id: int, answer: str, now: float | None = None) -> VerifiedAnswer | None:
        """The new text; None for an unknown id."""
        statement = (
            update(verified_answers)
            .where(verified_answers.c.id == verified_id)
            .values(answer=answer, edited_at=time.time() if now is None else now)
            .returning(*verified_answers.columns)
        )
        with self.database.engine.begin() as db:
            row = db.execute(statement).first()
        return None if row is None else _verified(row)

    def delete(self, verified_id: int) -> VerifiedAnswer | None:
        """The row removed; None for an unknown id."""
        statement = delete(verified_answers).where(verified_answers.c.id == verified_id).returning(*verified_answers.columns)
        with self.database.engine.begin() as db:
            row = db.execute(statement).first()
        return None if row is None else _verified(row)

    def _one(self, where: object) -> VerifiedAnswer | None:
        with self.database.engine.connect() as db:
            row = db.execute(select(verified_answers).where(where)).first()  # type: ignore[arg-type]
        return None if row is None else _verified(row)


def _verified(row: Row) -> VerifiedAnswer:
    fields = row._mapping
    return VerifiedAnswer(
        id=fields["id"],
        course=fields["course"],
        question=fields["question"],
        answer=fields["answer"],
        ta=fields["ta"],
        answered_at=_utc(fields["answered_at"]),
        escalation_id=fields["escalation_id"],
        edited_at=None if fields["edited_at"] is None else _utc(fields["edited_at"]),
    )


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc)
