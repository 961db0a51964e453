"""The durable store's tables (SQLAlchemy 2 typed declarative models).

Four tables: ``turns`` (the provenance of each answer, with the question's embedding for the
FAQ gaps and the admin entry that answered its gap), ``feedback`` (thumbs on an answer),
``faq_entries`` (answers the admin wrote) and ``handoffs`` (conversations passed to a
person). Text columns hold PII-masked text only: the store does not mask, the caller hands in
text already masked (``chatbot.guard``). Timestamps are UTC on every backend: SQLite has
no time zone type, so :class:`UTCDateTime` stores naive UTC there and gives aware UTC back.
The schema itself is created by the Alembic revisions in ``chatbot/store/migrations``, never
by ``metadata.create_all``; these models must match them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    Index,
    LargeBinary,
    MetaData,
    String,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# JSON columns: JSONB on PostgreSQL (indexable, compact), JSON text on SQLite.
JSONType = JSON().with_variant(JSONB(), "postgresql")
ID_LENGTH = 64


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is UTC in and out, whatever the backend keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        # SQLite compares the stored text: keep one fixed form (naive UTC) for every row.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Constraint and index names fixed by convention, so the migrations can name them too.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSONType}  # noqa: RUF012


class TurnRecord(Base):
    """One answered turn and what produced it: sources, rails, index, prompt and engine."""

    __tablename__ = "turns"

    message_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    session_id: Mapped[str] = mapped_column(String(ID_LENGTH), index=True)
    created_at: Mapped[datetime] = mapped_column(index=True)
    question: Mapped[str] = mapped_column(Text)
    """The customer's message, PII-masked by the caller."""
    answer: Mapped[str] = mapped_column(Text)
    answered_by: Mapped[str] = mapped_column(String(32))
    citations: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    """``[{id, title, url, score, kind}]`` as the answer cited them."""
    rails: Mapped[dict[str, Any]]
    """The guardrails report (verdicts of the input and output rails)."""
    index_version: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    prompt_version: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    engine_dialect: Mapped[str | None] = mapped_column(String(32))
    engine_model: Mapped[str | None] = mapped_column(String(200))
    timings_ms: Mapped[dict[str, Any]]
    query_vector: Mapped[bytes | None] = mapped_column(LargeBinary)
    """The question's embedding (``chatbot.gaps.encode_vector``), so gaps cluster stored
    vectors instead of running the model again over the log."""
    gap_answer: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    """The admin FAQ entry written for the gap this turn was part of."""

    # Admin listings filter on how a turn was answered, newest first.
    __table_args__ = (Index("ix_turns_answered_by_created_at", "answered_by", "created_at"),)


class FeedbackRecord(Base):
    """A thumbs up or down on one answer.

    ``message_id`` is not a foreign key on purpose: feedback is kept even when the turn's own
    record was dropped (a full turn-log queue) or purged earlier by retention.
    """

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(ID_LENGTH), index=True)
    session_id: Mapped[str] = mapped_column(String(ID_LENGTH), index=True)
    rating: Mapped[str] = mapped_column(String(4))
    comment: Mapped[str | None] = mapped_column(Text)
    """Free text from the customer, PII-masked by the caller."""
    created_at: Mapped[datetime] = mapped_column(index=True)

    __table_args__ = (CheckConstraint("rating IN ('up', 'down')", name="rating"),)


class FaqEntryRecord(Base):
    """An FAQ entry the admin wrote (often answering a gap); published through the ingest
    as the admin FAQ file (``Settings.admin_faq_file``). No customer text: not purged."""

    __tablename__ = "faq_entries"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(200))
    gap_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class HandoffRecord(Base):
    """A conversation passed to a person: the masked transcript, the sources the bot used,
    and where its webhook delivery stands."""

    __tablename__ = "handoffs"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    session_id: Mapped[str] = mapped_column(String(ID_LENGTH), index=True)
    message_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    about: Mapped[str | None] = mapped_column(String(ID_LENGTH), index=True)
    """The turn the customer asked about before asking for a person (its FAQ gap)."""
    created_at: Mapped[datetime] = mapped_column(index=True)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int]
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]
    transcript: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    """``[{role: customer|assistant, text}]``, masked."""
    sources: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    """``[{id, title, url}]`` the bot's answers cited."""

    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'delivered', 'failed', 'not_configured')", name="status"
        ),
    )
