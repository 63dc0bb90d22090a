"""At most one open escalation per question, across replicas: a partial unique index on the course
and a key of the question (its text and the thread it came from), for open rows only.

Databases from before held no such guarantee, so two replicas may have opened one question twice:
the oldest open row stays open and the others are dismissed as its duplicates (no note, so no
student is told twice), which lets the index be made on any old database.

Revision ID: 0005
"""

import hashlib
import json
import time

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"

OPEN_ONLY = sa.text("status = 'open'")
DUPLICATE_OF = "AI Mentor (a duplicate of escalation {kept})"
"""Who "dismissed" a duplicate, as the TA who clicks its old queue message reads it."""

escalations = sa.table(
    "escalations",
    sa.column("id", sa.Integer),
    sa.column("course", sa.Text),
    sa.column("question", sa.Text),
    sa.column("place", sa.Text),
    sa.column("status", sa.Text),
    sa.column("created_at", sa.Float),
    sa.column("answered_by", sa.Text),
    sa.column("answered_at", sa.Float),
    sa.column("question_key", sa.Text),
)


def question_key(question: str, place: dict) -> str:
    """`bot.store.escalations.question_key` as of this revision (a migration must not change when the code does)."""
    identity = json.dumps([place["platform"], place["channel"], place.get("thread"), question])
    return hashlib.sha256(identity.encode()).hexdigest()


def upgrade() -> None:
    op.add_column("escalations", sa.Column("question_key", sa.Text))
    db = op.get_bind()
    rows = db.execute(
        sa.select(escalations.c.id, escalations.c.course, escalations.c.question, escalations.c.place, escalations.c.status)
        .order_by(escalations.c.created_at, escalations.c.id)
    ).all()
    keys, kept, duplicates = [], {}, []
    for row in rows:
        key = question_key(row.question, json.loads(row.place))
        keys.append({"row": row.id, "key": key})
        if row.status == "open":
            first = kept.setdefault((row.course, key), row.id)  # oldest first, so the first seen is kept
            if first != row.id:
                duplicates.append({"row": row.id, "by": DUPLICATE_OF.format(kept=first)})
    row_id = escalations.c.id == sa.bindparam("row")
    if keys:
        db.execute(sa.update(escalations).where(row_id).values(question_key=sa.bindparam("key")), keys)
    if duplicates:
        closed = {"status": "dismissed", "answered_by": sa.bindparam("by"), "answered_at": time.time()}
        db.execute(sa.update(escalations).where(row_id).values(closed), duplicates)
    op.create_index(
        "escalations_one_open", "escalations", ["course", "question_key"], unique=True, sqlite_where=OPEN_ONLY, postgresql_where=OPEN_ONLY
    )


def downgrade() -> None:
    op.drop_index("escalations_one_open", "escalations")
    with op.batch_alter_table("escalations") as table:
        table.drop_column("question_key")
