"""What students asked, how it went, and what they thought of the answer.

Kept beside the reindex history (`history.sqlite`), so an instructor sees in one place
what the bot knows, what it was asked, and where the materials have gaps. Reactions
on a chat platform arrive with only the message they were put on, so each answer's
messages are linked to its question here.
"""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from ingest.sqlite_file import open_database
from models import Answer, Question

Vote = Literal[1, -1]

SCHEMA = """
CREATE TABLE IF NOT EXISTS questions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    asked_at REAL NOT NULL,
    course TEXT NOT NULL,
    platform TEXT NOT NULL,
    asker TEXT,
    text TEXT NOT NULL,
    kind TEXT NOT NULL,
    grounded INTEGER NOT NULL,
    citations TEXT NOT NULL,
    total_ms REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS questions_by_kind ON questions (course, kind, asked_at);
CREATE TABLE IF NOT EXISTS answer_messages (
    platform TEXT NOT NULL,
    message TEXT NOT NULL,
    question_id INTEGER NOT NULL REFERENCES questions (id),
    PRIMARY KEY (platform, message)
);
CREATE TABLE IF NOT EXISTS feedback (
    question_id INTEGER NOT NULL REFERENCES questions (id),
    platform TEXT NOT NULL,
    user TEXT NOT NULL,
    vote INTEGER NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (question_id, platform, user)
);
"""


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


_QUESTION_COLUMNS = "q.id, q.asked_at, q.course, q.platform, q.asker, q.text, q.kind, q.grounded, q.citations, q.total_ms"


class QuestionLog:
    def __init__(self, path: Path) -> None:
        self.path = path

    def _connect(self) -> sqlite3.Connection:
        return open_database(self.path, SCHEMA)

    def record(self, question: Question, course: str, answer: Answer) -> int:
        """Store one answered question; returns the id feedback refers to."""
        citations = [{"label": c.label(), "url": c.url} for c in answer.citations]
        with closing(self._connect()) as db, db:
            cursor = db.execute(
                "INSERT INTO questions (asked_at, course, platform, asker, text, kind, grounded, citations, total_ms)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    time.time(),
                    course,
                    question.platform or "cli",
                    question.asker,
                    question.text,
                    answer.kind,
                    int(answer.grounded),
                    json.dumps(citations),
                    answer.timings.retrieve_ms + answer.timings.generate_ms,
                ),
            )
            return int(cursor.lastrowid or 0)

    def link_messages(self, question_id: int, platform: str, messages: list[str]) -> None:
        """Remember that these platform messages (Slack `channel:ts`, Discord message ids) carry this answer."""
        with closing(self._connect()) as db, db:
            db.executemany(
                "INSERT OR REPLACE INTO answer_messages (platform, message, question_id) VALUES (?, ?, ?)",
                [(platform, message, question_id) for message in messages],
            )

    def question_for_message(self, platform: str, message: str) -> int | None:
        with closing(self._connect()) as db:
            row = db.execute(
                "SELECT question_id FROM answer_messages WHERE platform = ? AND message = ?", (platform, message)
            ).fetchone()
        return int(row[0]) if row else None

    def get(self, question_id: int) -> AskedQuestion | None:
        with closing(self._connect()) as db:
            row = db.execute(f"SELECT {_QUESTION_COLUMNS} FROM questions q WHERE q.id = ?", (question_id,)).fetchone()
        return _asked(row) if row else None

    def set_feedback(self, question_id: int, platform: str, user: str, vote: Vote) -> bool:
        """Record (or change) a person's vote on an answer; False when no such answer is known."""
        with closing(self._connect()) as db, db:
            if db.execute("SELECT 1 FROM questions WHERE id = ?", (question_id,)).fetchone() is None:
                return False
            db.execute(
                "INSERT INTO feedback (question_id, platform, user, vote, at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (question_id, platform, user) DO UPDATE SET vote = excluded.vote, at = excluded.at",
                (question_id, platform, user, vote, time.time()),
            )
            return True

    def withdraw_feedback(self, question_id: int, platform: str, user: str, vote: Vote) -> None:
        """A removed reaction takes its vote back (only that vote: a later change of mind stays)."""
        with closing(self._connect()) as db, db:
            db.execute(
                "DELETE FROM feedback WHERE question_id = ? AND platform = ? AND user = ? AND vote = ?",
                (question_id, platform, user, vote),
            )

    def feedback(self, course: str | None = None, limit: int = 100) -> list[Feedback]:
        """Newest first."""
        where, arguments = ("WHERE q.course = ?", (course,)) if course else ("", ())
        query = (
            f"SELECT {_QUESTION_COLUMNS}, f.platform, f.user, f.vote, f.at FROM feedback f"
            f" JOIN questions q ON q.id = f.question_id {where} ORDER BY f.at DESC LIMIT ?"
        )
        with closing(self._connect()) as db:
            rows = db.execute(query, (*arguments, limit)).fetchall()
        return [Feedback(_asked(row[:10]), row[10], row[11], int(row[12]), _utc(row[13])) for row in rows]

    def recent(self, course: str | None = None, limit: int = 50) -> list[AskedQuestion]:
        where, arguments = ("WHERE q.course = ?", (course,)) if course else ("", ())
        with closing(self._connect()) as db:
            rows = db.execute(
                f"SELECT {_QUESTION_COLUMNS} FROM questions q {where} ORDER BY q.asked_at DESC, q.id DESC LIMIT ?",
                (*arguments, limit),
            ).fetchall()
        return [_asked(row) for row in rows]

    def gaps(self, course: str | None = None, limit: int = 50) -> list[Gap]:
        """Questions declined as not covered, the same wording counted together, newest first."""
        where, arguments = ("AND course = ?", (course,)) if course else ("", ())
        query = (
            "SELECT course, MAX(text), COUNT(*), MAX(asked_at) FROM questions"
            f" WHERE kind = 'not_covered' {where}"
            " GROUP BY course, lower(trim(text)) ORDER BY MAX(asked_at) DESC LIMIT ?"
        )
        with closing(self._connect()) as db:
            rows = db.execute(query, (*arguments, limit)).fetchall()
        return [Gap(row[0], row[1], int(row[2]), _utc(row[3])) for row in rows]


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc)


def _asked(row: tuple[object, ...]) -> AskedQuestion:
    citations = tuple(CitedSource(c["label"], c["url"]) for c in json.loads(str(row[8])))
    return AskedQuestion(
        id=int(row[0]),  # type: ignore[arg-type]
        asked_at=_utc(float(row[1])),  # type: ignore[arg-type]
        course=str(row[2]),
        platform=str(row[3]),
        asker=None if row[4] is None else str(row[4]),
        text=str(row[5]),
        kind=str(row[6]),
        grounded=bool(row[7]),
        citations=citations,
        total_ms=float(row[9]),  # type: ignore[arg-type]
    )
