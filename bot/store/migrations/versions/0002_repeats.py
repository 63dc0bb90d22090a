"""Repeat questions: where each question was asked, and its embedding, to point a later asker there.

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.add_column("questions", sa.Column("link", sa.Text))
    op.add_column("questions", sa.Column("embedding", sa.LargeBinary))


def downgrade() -> None:
    with op.batch_alter_table("questions") as table:
        table.drop_column("embedding")
        table.drop_column("link")
