"""What students asked, how it went, and what they thought of the answer.

Kept beside the reindex history in the state database (`bot.store.database`), so an instructor sees in one place
what the bot knows, what it was asked, and where the materials have gaps. Reactions
on a chat platform arrive with only the message they were put on, so each answer's
messages are linked to its question here.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Literal

from sqlalchemy import ColumnElement, Row, delete, func, insert, select, true, update

from bot.store.database import Database, upsert
from bot.store.tables import answer_messages, feedback, questions
from models import Answer, Question

Vote = Literal[1, -1]


@dataclass(frozen=True)
class CitedSource:
    label: str
    url: str | None


@dataclass(frozen=True)
class AskedQuestion:
    id: int
    asked_at: datetime
    course: str
    platform: str
    asker: str | None
    text: str
    kind: str
    grounded: bool
    citations: tuple[CitedSource, ...]
    total_ms: float
    human_answer_s: float | None = None
    """Seconds from the question to a TA's answer reaching the student; None when no TA's answer did."""


@dataclass(frozen=True)
class LinkedQuestion:
    id: int
    text: str
    asked_at: datetime
    link: str
    embedding: bytes


@dataclass(frozen=True)
class Feedback:
    """One person's 👍 or 👎 on one answer, with what the answer was about."""

    question: AskedQuestion
    platform: str
    user: str
    vote: int
    at: datetime

    def to_json(self) -> dict[str, object]:
        return {
            "at": self.at.isoformat(),
            "vote": "up" if self.vote > 0 else "down",
            "platform": self.platform,
            "user": self.user,
            "course": self.question.course,
            "question": self.question.text,
            "question_id": self.question.id,
            "kind": self.question.kind,
            "citations": [{"label": c.label, "url": c.url} for c in self.question.citations],
        }


@dataclass(frozen=True)
class Gap:
    """A question the materials did not cover, with how often (and how lately) it was asked."""

    course: str
    text: str
    count: int
    last_asked: datetime

    def to_json(self) -> dict[str, object]:
        return {"course": self.course, "question": self.text, "count": self.count, "last_asked": self.last_asked.isoformat()}


class QuestionLog:
    def __init__(self, database: Database) -> None:
        self.engine = database.engine

    def record(self, question: Question, course: str, answer: Answer, embedding: bytes | None = None) -> int:
        """Store one answered question; returns the id feedback refers to. `embedding`: the question's
        vector (float32), kept so a later asker of the same question can be pointed to this one."""
        citations = [{"label": c.label(), "url": c.url} for c in answer.citations]
        with self.engine.begin() as db:
            inserted = db.execute(
                insert(questions).values(
                    asked_at=time.time(),
                    course=course,
                    platform=question.platform or "cli",
                    asker=question.asker,
                    text=question.text,
                    kind=answer.kind,
                    grounded=answer.grounded,
                    citations=json.dumps(citations),
                    total_ms=answer.timings.retrieve_ms + answer.timings.generate_ms,
                    link=question.link,
                    embedding=embedding,
                )
            )
            return int(inserted.inserted_primary_key[0])

    def record_human_answer(self, question_id: int, delivered_at: float | None = None) -> float | None:
        """A TA's answer reached the asker now (or at `delivered_at`): the seconds it took from the question, once."""
        at = time.time() if delivered_at is None else delivered_at
        with self.engine.begin() as db:
            row = db.execute(
                update(questions)
                .where(questions.c.id == question_id, questions.c.human_answer_s.is_(None))
                .values(human_answer_s=at - questions.c.asked_at)
                .returning(questions.c.human_answer_s)
            ).first()
        return None if row is None else float(row[0])

    def answered_with_links(self, course: str, platform: str, since: float, limit: int, after_id: int = 0) -> list[LinkedQuestion]:
        """The newest answered questions of a course and platform since `since` (and after the row
        `after_id`) that have a thread to link and a vector to compare: what a new question may be a
        repeat of. Newest first."""
        query = (
            select(questions.c.id, questions.c.text, questions.c.asked_at, questions.c.link, questions.c.embedding)
            .where(
                questions.c.course == course,
                questions.c.platform == platform,
                questions.c.grounded,
                questions.c.asked_at >= since,
                questions.c.id > after_id,
                questions.c.link.is_not(None),
                questions.c.embedding.is_not(None),
            )
            .order_by(questions.c.asked_at.desc())
            .limit(limit)
        )
        with self.engine.connect() as db:
            rows = db.execute(query).all()
        return [LinkedQuestion(row.id, row.text, _utc(row.asked_at), row.link, row.embedding) for row in rows]

    def between(self, course: str, since: float, until: float, limit: int = 100_000) -> list[AskedQuestion]:
        """A course's questions in a period, oldest first (the digest counts them)."""
        query = (
            select(*_ASKED)
            .where(questions.c.course == course, questions.c.asked_at >= since, questions.c.asked_at < until)
            .order_by(questions.c.asked_at, questions.c.id)
            .limit(limit)
        )
        with self.engine.connect() as db:
            return [_asked(row) for row in db.execute(query).all()]

    def downvoted(self, course: str, since: float, until: float, limit: int = 10) -> list[AskedQuestion]:
        """Questions whose answer got a 👎 in a period, newest vote first, each once."""
        votes = (
            select(feedback.c.question_id, func.max(feedback.c.at).label("last"))
            .where(feedback.c.vote < 0, feedback.c.at >= since, feedback.c.at < until)
            .group_by(feedback.c.question_id)
            .subquery()
        )
        query = (
            select(*_ASKED)
            .join_from(questions, votes, votes.c.question_id == questions.c.id)
            .where(questions.c.course == course)
            .order_by(votes.c.last.desc())
            .limit(limit)
        )
        with self.engine.connect() as db:
            return [_asked(row) for row in db.execute(query).all()]

    def with_vectors(self, course: str | None, since: float, limit: int) -> list[tuple[AskedQuestion, bytes]]:
        """Questions asked since `since` that kept their vector, oldest first: what repeats are clustered from."""
        query = (
            select(*_ASKED, questions.c.embedding)
            .where(_of_course(course), questions.c.asked_at >= since, questions.c.embedding.is_not(None))
            .order_by(questions.c.asked_at, questions.c.id)
            .limit(limit)
        )
        with self.engine.connect() as db:
            rows = db.execute(query).all()
        return [(_asked(row), row.embedding) for row in rows]

    def link_messages(self, question_id: int, platform: str, messages: list[str]) -> None:
        """Remember that these platform messages (Slack `channel:ts`, Discord message ids) carry this answer."""
        with self.engine.begin() as db:
            for message in messages:
                upsert(db, answer_messages, {"platform": platform, "message": message, "question_id": question_id}, ("platform", "message"))

    def question_for_message(self, platform: str, message: str) -> int | None:
        query = select(answer_messages.c.question_id).where(answer_messages.c.platform == platform, answer_messages.c.message == message)
        with self.engine.connect() as db:
            found = db.execute(query).scalar()
        return None if found is None else int(found)

    def get(self, question_id: int) -> AskedQuestion | None:
        with self.engine.connect() as db:
            row = db.execute(select(*_ASKED).where(questions.c.id == question_id)).first()
        return _asked(row) if row else None

    def set_feedback(self, question_id: int, platform: str, user: str, vote: Vote) -> bool:
        """Record (or change) a person's vote on an answer; False when no such answer is known."""
        with self.engine.begin() as db:
            if db.execute(select(questions.c.id).where(questions.c.id == question_id)).first() is None:
                return False
            row = {"question_id": question_id, "platform": platform, "voter": user, "vote": vote, "at": time.time()}
            upsert(db, feedback, row, ("question_id", "platform", "voter"))
            return True

    def withdraw_feedback(self, question_id: int, platform: str, user: str, vote: Vote) -> None:
        """A removed reaction takes its vote back (only that vote: a later change of mind stays)."""
        with self.engine.begin() as db:
            db.execute(
                delete(feedback).where(
                    feedback.c.question_id == question_id,
                    feedback.c.platform == platform,
                    feedback.c.voter == user,
                    feedback.c.vote == vote,
                )
            )

    def feedback(self, course: str | None = None, limit: int = 100) -> list[Feedback]:
        """Newest first."""
        query = (
            select(*_ASKED, feedback.c.platform.label("voted_on"), feedback.c.voter, feedback.c.vote, feedback.c.at)
            .join_from(feedback, questions, feedback.c.question_id == questions.c.id)
            .where(_of_course(course))
            .order_by(feedback.c.at.desc())
            .limit(limit)
        )
        with self.engine.connect() as db:
            rows = db.execute(query).all()
        return [Feedback(_asked(row), row.voted_on, row.voter, int(row.vote), _utc(row.at)) for row in rows]

    def recent(self, course: str | None = None, limit: int = 50) -> list[AskedQuestion]:
        query = select(*_ASKED).where(_of_course(course)).order_by(questions.c.asked_at.desc(), questions.c.id.desc()).limit(limit)
        with self.engine.connect() as db:
            rows = db.execute(query).all()
        return [_asked(row) for row in rows]

    def gaps(self, course: str | None = None, limit: int = 50) -> list[Gap]:
        """Questions declined as not covered, the same wording counted together, newest first."""
        wording = func.lower(func.trim(questions.c.text))
        last_asked = func.max(questions.c.asked_at)
        query = (
            select(questions.c.course, func.max(questions.c.text), func.count(), last_asked)
            .where(questions.c.kind == "not_covered", _of_course(course))
            .group_by(questions.c.course, wording)
            .order_by(last_asked.desc())
            .limit(limit)
        )
        with self.engine.connect() as db:
            rows = db.execute(query).all()
        return [Gap(row[0], row[1], int(row[2]), _utc(row[3])) for row in rows]


_ASKED = [column for column in questions.c if column.name not in {"link", "embedding"}]
"""The columns an `AskedQuestion` reads, in table order (not the vector, which only repeats compare)."""


def _of_course(course: str | None) -> ColumnElement[bool]:
    return true() if course is None else questions.c.course == course


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc)


def _asked(row: Row[tuple[object, ...]] | Sequence[object]) -> AskedQuestion:
    """A question from a row that starts with the `questions` columns, in table order."""
    values = tuple(row)
    citations = tuple(CitedSource(c["label"], c["url"]) for c in json.loads(str(values[8])))
    return AskedQuestion(
        id=int(values[0]),  # type: ignore[call-overload]
        asked_at=_utc(float(values[1])),  # type: ignore[arg-type]
        course=str(values[2]),
        platform=str(values[3]),
        asker=None if values[4] is None else str(values[4]),
        text=str(values[5]),
        kind=str(values[6]),
        grounded=bool(values[7]),
        citations=citations,
        total_ms=float(values[9]),  # type: ignore[arg-type]
        human_answer_s=None if values[10] is None else float(values[10]),  # type: ignore[arg-type]
    )
