"""The escalations: questions handed to a course's TAs, kept in the state database.

State lives here, not in memory, so a queue button clicked after a restart (or on another
replica) still finds its question. Answering and dismissing are one conditional UPDATE on
an open row: of two TAs clicking at once, exactly one gets the row back. Opening is one
INSERT that a partial unique index (one open row per course and question) turns into a
no-op when the question is open already: of two replicas escalating it at once, exactly one
makes the row, and both get it back.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import Insert, Row, Select, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from bot.store.database import Database, upsert
from bot.store.tables import OPEN_ONLY, escalations, pseudonym_salts, questions
from models import Citation, Escalation, EscalationStatus, ReplyPlace, Turn

PSEUDONYM_DIGITS = 6
"""16 million pseudonyms a course: two students of a 1,000-strong class share one with odds of about 3 in 100."""
SIGNING_KEY = "*buttons*"
"""The salts row whose secret signs the "Ask a TA" buttons' values (no course can be named so)."""
SIGNATURE_DIGITS = 16
OPEN_ATTEMPTS = 3
"""An INSERT that found the question open, then a SELECT that found it closed in between: try again, this often."""


@dataclass(frozen=True)
class NewEscalation:
    """What `open` needs; the store adds the id, the status and the time."""

    course: str
    question: str
    reason: str
    place: ReplyPlace
    student: str
    context: tuple[Turn, ...] = ()
    draft: str | None = None
    sources: tuple[Citation, ...] = ()
    question_id: int | None = None
    """The question log's row, where the time to a human answer is recorded."""


@dataclass(frozen=True)
class Opened:
    """What `open_if_new` came to: `escalation` is new (`created`), or the one already open for that question."""

    escalation: Escalation
    created: bool


def question_key(question: str, place: ReplyPlace) -> str:
    """One question from one thread, whatever link rides along: what "the same question" means to `find`
    and to the one-open-row index. A digest, so a long question fits PostgreSQL's index rows.
    Migration 0005 computes it the same way for the rows it found."""
    identity = json.dumps([place.platform, place.channel, place.thread, question])
    return hashlib.sha256(identity.encode()).hexdigest()


class EscalationStore:
    """`open` a question, find it by id or by its queue message, and close it once."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._salts: dict[str, str] = {}
        """Salts never change once made, so each is read once per process: every answer's button is signed."""

    def open(self, new: NewEscalation, now: float | None = None) -> Escalation:
        """A new open escalation, or the one already open for this question (`open_if_new` says which)."""
        return self.open_if_new(new, now).escalation

    def open_if_new(self, new: NewEscalation, now: float | None = None) -> Opened:
        """Open `new` unless its question is open already, on any replica: one statement decides, so two
        replicas racing get one row between them."""
        key = question_key(new.question, new.place)
        values = {
            "course": new.course,
            "question": new.question,
            "context": json.dumps([turn.model_dump() for turn in new.context]),
            "reason": new.reason,
            "place": new.place.model_dump_json(),
            "student": new.student,
            "draft": new.draft,
            "sources": json.dumps([citation.model_dump(mode="json") for citation in new.sources]),
            "status": "open",
            "created_at": time.time() if now is None else now,
            "reposted": False,
            "question_id": new.question_id,
            "question_key": key,
        }
        already_open = (escalations.c.course == new.course) & (escalations.c.question_key == key) & (escalations.c.status == "open")
        for _ in range(OPEN_ATTEMPTS):
            with self.database.engine.begin() as db:
                row = db.execute(_insert_unless_open(db.dialect.name, values).returning(*escalations.columns)).first()
                if row is not None:
                    return Opened(_escalation(row), created=True)
                existing = db.execute(_with_times().where(already_open)).first()
            if existing is not None:
                return Opened(_escalation(existing), created=False)
        raise RuntimeError(f"escalation of {new.course!r} neither opened nor found open after {OPEN_ATTEMPTS} tries")

    def get(self, escalation_id: int) -> Escalation | None:
        return self._one(escalations.c.id == escalation_id)

    def by_queue_message(self, queue_ref: str) -> Escalation | None:
        return self._one(escalations.c.queue_ref == queue_ref)

    def find(self, course: str, question: str, place: ReplyPlace) -> Escalation | None:
        """This question from this thread, escalated before (in any state): asking twice sends it once."""
        where = (escalations.c.course == course) & (escalations.c.question_key == question_key(question, place))
        with self.database.engine.connect() as db:
            row = db.execute(_with_times().where(where).order_by(escalations.c.id).limit(1)).first()
        return None if row is None else _escalation(row)

    def for_place(self, place: ReplyPlace) -> list[Escalation]:
        """The escalations asked from one place (a web page's conversation), oldest first."""
        with self.database.engine.connect() as db:
            rows = db.execute(select(escalations).where(escalations.c.place == place.model_dump_json()).order_by(escalations.c.id)).all()
        return [_escalation(row) for row in rows]

    def set_queue_message(self, escalation_id: int, queue_ref: str) -> None:
        self._update(escalations.c.id == escalation_id, queue_ref=queue_ref)

    def claim(self, escalation_id: int, ta: str) -> Escalation | None:
        """The TA who will answer in the queue thread; None when the question is not open any more."""
        return self._update((escalations.c.id == escalation_id) & (escalations.c.status == "open"), claimed_by=ta)

    def close(
        self, escalation_id: int, status: EscalationStatus, ta: str, answer: str | None = None, now: float | None = None
    ) -> Escalation | None:
        """Answer or dismiss an open question; None when it was closed already (another TA was first) or is unknown."""
        return self._update(
            (escalations.c.id == escalation_id) & (escalations.c.status == "open"),
            status=status,
            answered_by=ta,
            answer=answer,
            answered_at=time.time() if now is None else now,
        )

    def note_delivery_problem(self, escalation_id: int, problem: str) -> None:
        self._update(escalations.c.id == escalation_id, delivery_problem=problem)

    def open_ones(self, course: str | None = None) -> list[Escalation]:
        """Open escalations, oldest first."""
        where = escalations.c.status == "open"
        if course is not None:
            where &= escalations.c.course == course
        with self.database.engine.connect() as db:
            rows = db.execute(_with_times().where(where).order_by(escalations.c.created_at, escalations.c.id)).all()
        return [_escalation(row) for row in rows]

    def answered_ones(self, course: str | None = None, limit: int = 50) -> list[Escalation]:
        """Questions a TA answered, newest answer first, with the time each took to reach its student."""
        where = escalations.c.status == "answered"
        if course is not None:
            where &= escalations.c.course == course
        query = _with_times().where(where).order_by(escalations.c.answered_at.desc(), escalations.c.id.desc()).limit(limit)
        with self.database.engine.connect() as db:
            return [_escalation(row) for row in db.execute(query).all()]

    def counted(self, course: str, since: float, until: float) -> tuple[int, int]:
        """For the digest: questions escalated in a period, and those a TA answered in it."""
        window = (escalations.c.course == course) & (escalations.c.created_at >= since) & (escalations.c.created_at < until)
        answered = (escalations.c.course == course) & (escalations.c.answered_at >= since) & (escalations.c.answered_at < until)
        with self.database.engine.connect() as db:
            escalated = db.execute(select(func.count()).where(window)).scalar() or 0
            by_ta = db.execute(select(func.count()).where(answered, escalations.c.status == "answered")).scalar() or 0
        return int(escalated), int(by_ta)

    def mark_reposted(self, escalation_id: int) -> bool:
        """True for the one replica that gets to re-post a stale question (once, ever)."""
        where = (escalations.c.id == escalation_id) & (escalations.c.status == "open") & escalations.c.reposted.is_(False)
        return self._update(where, reposted=True) is not None

    def pseudonym(self, course: str, student: str) -> str:
        """`Student 4F2A9C`: the same for one student in one course, on every replica, and unlinkable across courses."""
        return f"Student {self._digest(course, student)[:PSEUDONYM_DIGITS].upper()}"

    def sign(self, value: str) -> str:
        """`value.signature`: a button's payload that only this installation (any replica, any restart) could have made."""
        return f"{value}.{self._digest(SIGNING_KEY, value)[:SIGNATURE_DIGITS]}"

    def verified(self, signed: str) -> str | None:
        """The value a `sign`ed payload carries; None when the signature does not match (forged or mangled)."""
        value, _, signature = signed.rpartition(".")
        return value if value and hmac.compare_digest(self.sign(value), signed) and signature else None

    def _digest(self, key: str, value: str) -> str:
        """HMAC-SHA256 of `value` under `key`'s random salt, made once and kept in the database."""
        if (salt := self._salts.get(key)) is None:
            with self.database.engine.begin() as db:
                upsert(db, pseudonym_salts, {"course": key, "salt": secrets.token_hex(16)}, ["course"], replace=False)
                salt = self._salts[key] = db.execute(select(pseudonym_salts.c.salt).where(pseudonym_salts.c.course == key)).scalar_one()
        return hmac.new(salt.encode(), value.encode(), hashlib.sha256).hexdigest()

    def _one(self, where: object) -> Escalation | None:
        with self.database.engine.connect() as db:
            row = db.execute(_with_times().where(where)).first()  # type: ignore[arg-type]
        return None if row is None else _escalation(row)

    def _update(self, where: object, **values: object) -> Escalation | None:
        # RETURNING, not rowcount: psycopg may report -1, and the row is what the caller wants anyway.
        with self.database.engine.begin() as db:
            row = db.execute(update(escalations).where(where).values(**values).returning(*escalations.columns)).first()  # type: ignore[arg-type]
        return None if row is None else _escalation(row)


def _insert_unless_open(dialect: str, values: dict[str, object]) -> Insert:
    """INSERT … ON CONFLICT DO NOTHING against the one-open-row index: a conflict is no error (which
    would abort a PostgreSQL transaction and log on the server), just no row back."""
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(escalations).values(values)
    return insert.on_conflict_do_nothing(index_elements=["course", "question_key"], index_where=text(OPEN_ONLY))


def _with_times() -> Select:
    """Escalations with the question log's time to a human answer beside them (None until one arrived)."""
    return select(escalations, questions.c.human_answer_s).outerjoin(questions, questions.c.id == escalations.c.question_id)


def _escalation(row: Row) -> Escalation:
    fields = row._mapping
    return Escalation(
        id=fields["id"],
        course=fields["course"],
        question=fields["question"],
        context=tuple(Turn(**turn) for turn in json.loads(fields["context"])),
        reason=fields["reason"],
        place=ReplyPlace.model_validate_json(fields["place"]),
        student=fields["student"],
        draft=fields["draft"],
        sources=tuple(Citation(**citation) for citation in json.loads(fields["sources"])),
        status=fields["status"],
        queue_ref=fields["queue_ref"],
        claimed_by=fields["claimed_by"],
        answer=fields["answer"],
        answered_by=fields["answered_by"],
        answered_at=_time(fields["answered_at"]),
        delivery_problem=fields["delivery_problem"],
        created_at=_time(fields["created_at"]),
        reposted=bool(fields["reposted"]),
        question_id=fields["question_id"],
        human_answer_s=fields.get("human_answer_s"),
    )


def _time(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, tz=timezone.utc)
