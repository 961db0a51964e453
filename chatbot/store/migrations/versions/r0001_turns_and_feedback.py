"""The turn log (provenance per answer) and feedback tables.

Revision ID: 0001
Revises:
Create Date: 2026-12-07 15:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out rather than imported from chatbot.store.models: a revision must keep creating
# the schema it created when it was written, whatever the models become.
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ID = sa.String(64)
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "turns",
        sa.Column("message_id", ID, nullable=False),
        sa.Column("session_id", ID, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("answered_by", sa.String(32), nullable=False),
        sa.Column("citations", JSON, nullable=False),
        sa.Column("rails", JSON, nullable=False),
        sa.Column("index_version", ID, nullable=True),
        sa.Column("prompt_version", ID, nullable=True),
        sa.Column("engine_dialect", sa.String(32), nullable=True),
        sa.Column("engine_model", sa.String(200), nullable=True),
        sa.Column("timings_ms", JSON, nullable=False),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_turns")),
    )
    op.create_index(op.f("ix_turns_session_id"), "turns", ["session_id"])
    op.create_index(op.f("ix_turns_created_at"), "turns", ["created_at"])
    op.create_index(op.f("ix_turns_answered_by_created_at"), "turns", ["answered_by", "created_at"])

    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("message_id", ID, nullable=False),
        sa.Column("session_id", ID, nullable=False),
        sa.Column("rating", sa.String(4), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.CheckConstraint("rating IN ('up', 'down')", name=op.f("ck_feedback_rating")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback")),
    )
    op.create_index(op.f("ix_feedback_message_id"), "feedback", ["message_id"])
    op.create_index(op.f("ix_feedback_session_id"), "feedback", ["session_id"])
    op.create_index(op.f("ix_feedback_created_at"), "feedback", ["created_at"])


def downgrade() -> None:
    op.drop_table("feedback")
    op.drop_table("turns")
