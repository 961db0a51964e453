"""The support loop: query vectors and gap answers on turns, admin FAQ entries, handoffs.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07 17:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out, as in 0001: a revision keeps creating the schema it created.
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ID = sa.String(64)
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("turns") as turns:
        turns.add_column(sa.Column("query_vector", sa.LargeBinary(), nullable=True))
        turns.add_column(sa.Column("gap_answer", ID, nullable=True))

    op.create_table(
        "faq_entries",
        sa.Column("id", ID, nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("category", sa.String(200), nullable=True),
        sa.Column("gap_id", ID, nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_faq_entries")),
    )

    op.create_table(
        "handoffs",
        sa.Column("id", ID, nullable=False),
        sa.Column("session_id", ID, nullable=False),
        sa.Column("message_id", ID, nullable=False),
        sa.Column("about", ID, nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", WHEN, nullable=True),
        sa.Column("transcript", JSON, nullable=False),
        sa.Column("sources", JSON, nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'failed', 'not_configured')",
            name=op.f("ck_handoffs_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoffs")),
    )
    op.create_index(op.f("ix_handoffs_session_id"), "handoffs", ["session_id"])
    op.create_index(op.f("ix_handoffs_created_at"), "handoffs", ["created_at"])
    op.create_index(op.f("ix_handoffs_about"), "handoffs", ["about"])


def downgrade() -> None:
    op.drop_table("handoffs")
    op.drop_table("faq_entries")
    with op.batch_alter_table("turns") as turns:
        turns.drop_column("gap_answer")
        turns.drop_column("query_vector")
