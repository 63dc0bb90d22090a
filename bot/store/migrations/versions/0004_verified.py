"""Verified answers (a TA's answer kept for the next similar question), and the time each question
waited for a human answer.

Revision ID: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.create_table(
        "verified_answers",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("course", sa.Text, nullable=False),
        sa.Column("escalation_id", sa.Integer, unique=True),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("answer", sa.Text, nullable=False),
        sa.Column("ta", sa.Text),
        sa.Column("answered_at", sa.Float, nullable=False),
        sa.Column("edited_at", sa.Float),
    )
    op.create_index("verified_by_course", "verified_answers", ["course", "answered_at"])
    op.add_column("escalations", sa.Column("question_id", sa.Integer))
    op.add_column("questions", sa.Column("human_answer_s", sa.Float))


def downgrade() -> None:
    with op.batch_alter_table("questions") as table:
        table.drop_column("human_answer_s")
    with op.batch_alter_table("escalations") as table:
        table.drop_column("question_id")
    op.drop_index("verified_by_course", "verified_answers")
    op.drop_table("verified_answers")
