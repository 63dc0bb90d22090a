"""Escalations to a course's TA queue, and the per-course salts of students' pseudonyms.

Revision ID: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.create_table(
        "escalations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("course", sa.Text, nullable=False),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("context", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("place", sa.Text, nullable=False),
        sa.Column("student", sa.Text, nullable=False),
        sa.Column("draft", sa.Text),
        sa.Column("sources", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("queue_ref", sa.Text, unique=True),
        sa.Column("claimed_by", sa.Text),
        sa.Column("answer", sa.Text),
        sa.Column("answered_by", sa.Text),
        sa.Column("answered_at", sa.Float),
        sa.Column("delivery_problem", sa.Text),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("reposted", sa.Boolean, nullable=False),
    )
    op.create_index("escalations_by_status", "escalations", ["course", "status", "created_at"])
    op.create_table(
        "pseudonym_salts",
        sa.Column("course", sa.Text, primary_key=True),
        sa.Column("salt", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("pseudonym_salts")
    op.drop_index("escalations_by_status", "escalations")
    op.drop_table("escalations")
