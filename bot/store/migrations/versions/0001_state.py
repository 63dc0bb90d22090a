"""The shared state: reindex runs, the question log, the ingest catalog, and cross-host coordination.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("course", sa.Text, nullable=False),
        sa.Column("trigger", sa.Text, nullable=False),
        sa.Column("requested_by", sa.Text, nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("seconds", sa.Float),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("report", sa.Text),
        sa.Column("error", sa.Text),
    )
    op.create_index("runs_by_course", "runs", ["course", "started_at"])
    op.create_table(
        "questions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("asked_at", sa.Float, nullable=False),
        sa.Column("course", sa.Text, nullable=False),
        sa.Column("platform", sa.Text, nullable=False),
        sa.Column("asker", sa.Text),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("grounded", sa.Boolean, nullable=False),
        sa.Column("citations", sa.Text, nullable=False),
        sa.Column("total_ms", sa.Float, nullable=False),
    )
    op.create_index("questions_by_kind", "questions", ["course", "kind", "asked_at"])
    op.create_table(
        "answer_messages",
        sa.Column("platform", sa.Text, primary_key=True),
        sa.Column("message", sa.Text, primary_key=True),
        sa.Column("question_id", sa.Integer, sa.ForeignKey("questions.id", ondelete="CASCADE"), nullable=False),
    )
    op.create_table(
        "feedback",
        sa.Column("question_id", sa.Integer, sa.ForeignKey("questions.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("platform", sa.Text, primary_key=True),
        sa.Column("voter", sa.Text, primary_key=True),
        sa.Column("vote", sa.Integer, nullable=False),
        sa.Column("at", sa.Float, nullable=False),
    )
    op.create_table(
        "generation_files",
        sa.Column("generation", sa.Text, primary_key=True),
        sa.Column("source", sa.Text, primary_key=True),
        sa.Column("sha256", sa.Text, nullable=False),
        sa.Column("chunks", sa.Integer, nullable=False),
        sa.Column("ingested_at", sa.Float, nullable=False),
    )
    op.create_table(
        "generation_assets",
        sa.Column("generation", sa.Text, primary_key=True),
        sa.Column("source", sa.Text, primary_key=True),
        sa.Column("asset", sa.Text, primary_key=True),
    )
    op.create_table(
        "courses",
        sa.Column("course", sa.Text, primary_key=True),
        sa.Column("fingerprint", sa.Text),
        sa.Column("sources", sa.Text),
        sa.Column("last_report", sa.Text),
        sa.Column("last_ingest_at", sa.Float),
    )
    op.create_table(
        "reindex_holders",
        sa.Column("course", sa.Text, primary_key=True),
        sa.Column("note", sa.Text, nullable=False),
    )
    op.create_table(
        "schedule_claims",
        sa.Column("job", sa.Text, primary_key=True),
        sa.Column("slot", sa.Float, primary_key=True),
        sa.Column("host", sa.Text, nullable=False),
        sa.Column("claimed_at", sa.Float, nullable=False),
    )
    op.create_table(
        "legacy_imports",
        sa.Column("source", sa.Text, primary_key=True),
        sa.Column("imported_at", sa.Float, nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "legacy_imports", "schedule_claims", "reindex_holders", "courses", "generation_assets",
        "generation_files", "feedback", "answer_messages", "questions", "runs",
    ):
        op.drop_table(table)
