"""The bot's tables in the state database, as SQLAlchemy Core sees them.

The schema itself is made by the migrations (`bot/store/migrations`); a test checks that
these definitions and the migrated schema agree. The ingest catalog's tables are `ingest`'s
own (`ingest.manifest`).
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Float, ForeignKey, Index, Integer, LargeBinary, MetaData, Table, Text, text

metadata = MetaData()
OPEN_ONLY = "status = 'open'"
"""The predicate of the partial index that allows one open escalation per question (migration 0005)."""

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("course", Text, nullable=False),
    Column("trigger", Text, nullable=False),
    Column("requested_by", Text, nullable=False),
    Column("started_at", Float, nullable=False),
    Column("seconds", Float),
    Column("outcome", Text, nullable=False),
    Column("report", Text),
    Column("error", Text),
    Index("runs_by_course", "course", "started_at"),
)

questions = Table(
    "questions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("asked_at", Float, nullable=False),
    Column("course", Text, nullable=False),
    Column("platform", Text, nullable=False),
    Column("asker", Text),
    Column("text", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("grounded", Boolean, nullable=False),
    Column("citations", Text, nullable=False),
    Column("total_ms", Float, nullable=False),
    Column("link", Text),
    Column("embedding", LargeBinary),
    Column("human_answer_s", Float),
    Index("questions_by_kind", "course", "kind", "asked_at"),
)

answer_messages = Table(
    "answer_messages",
    metadata,
    Column("platform", Text, primary_key=True),
    Column("message", Text, primary_key=True),
    Column("question_id", Integer, ForeignKey("questions.id", ondelete="CASCADE"), nullable=False),
)

feedback = Table(
    "feedback",
    metadata,
    Column("question_id", Integer, ForeignKey("questions.id", ondelete="CASCADE"), primary_key=True),
    Column("platform", Text, primary_key=True),
    Column("voter", Text, primary_key=True),
    Column("vote", Integer, nullable=False),
    Column("at", Float, nullable=False),
)

reindex_holders = Table(
    "reindex_holders",
    metadata,
    Column("course", Text, primary_key=True),
    Column("note", Text, nullable=False),
)
"""Who holds a course's reindex lock, for the PostgreSQL advisory lock (which carries no note)."""

schedule_claims = Table(
    "schedule_claims",
    metadata,
    Column("job", Text, primary_key=True),
    Column("slot", Float, primary_key=True),
    Column("host", Text, nullable=False),
    Column("claimed_at", Float, nullable=False),
)
"""One row per scheduled firing: the replica that inserts it runs it, the others skip."""

legacy_imports = Table(
    "legacy_imports",
    metadata,
    Column("source", Text, primary_key=True),
    Column("imported_at", Float, nullable=False),
    Column("rows", Integer, nullable=False),
)
"""The pre-database SQLite files already imported, so a second import is refused."""

escalations = Table(
    "escalations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("course", Text, nullable=False),
    Column("question", Text, nullable=False),
    Column("context", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("place", Text, nullable=False),
    Column("student", Text, nullable=False),
    Column("draft", Text),
    Column("sources", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("queue_ref", Text, unique=True),
    Column("claimed_by", Text),
    Column("answer", Text),
    Column("answered_by", Text),
    Column("answered_at", Float),
    Column("delivery_problem", Text),
    Column("created_at", Float, nullable=False),
    Column("reposted", Boolean, nullable=False),
    Column("question_id", Integer),
    Column("question_key", Text),
    Index("escalations_by_status", "course", "status", "created_at"),
    Index("escalations_one_open", "course", "question_key", unique=True, sqlite_where=text(OPEN_ONLY), postgresql_where=text(OPEN_ONLY)),
)
"""Questions handed to a course's TAs (`bot.store.escalations`); a button works after a restart because it lives here."""

pseudonym_salts = Table(
    "pseudonym_salts",
    metadata,
    Column("course", Text, primary_key=True),
    Column("salt", Text, nullable=False),
)
"""One random salt per course, made once and shared by replicas, so a student's pseudonym is stable."""

verified_answers = Table(
    "verified_answers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("course", Text, nullable=False),
    Column("escalation_id", Integer, unique=True),
    Column("question", Text, nullable=False),
    Column("answer", Text, nullable=False),
    Column("ta", Text),
    Column("answered_at", Float, nullable=False),
    Column("edited_at", Float),
    Index("verified_by_course", "course", "answered_at"),
)
"""TA answers kept for the next similar question (`bot.store.verified`); the index holds a copy, this is the original."""
