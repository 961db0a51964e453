"""The durable store: turn provenance, feedback, admin FAQ entries and handoffs in SQLite or
PostgreSQL (async).

It outlives sessions (unlike Redis' TTL) so the support team can see what the bot did, and
it is the one place retention and erasure apply. Everything it keeps is PII-masked by the
caller. Writes are Core statements over the ORM tables (cheap batches, no identity map);
reads return frozen dataclasses, detached from any database session.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Iterable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Insert, Select, Table, delete, insert, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, RowMapping
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from chatbot.errors import DurableStoreUnavailableError
from chatbot.store.engine import make_engine
from chatbot.store.migrations import upgrade
from chatbot.store.models import (
    ID_LENGTH,
    FaqEntryRecord,
    FeedbackRecord,
    HandoffRecord,
    TurnRecord,
)
from chatbot.store.records import (
    RATINGS,
    Citation,
    Deleted,
    FaqEntry,
    FeedbackRecordOut,
    GapCandidate,
    HandoffOut,
    HandoffStatus,
    NewHandoff,
    NewTurn,
    Rating,
    TurnRecordOut,
    as_utc,
    utcnow,
)

TURNS = cast(Table, TurnRecord.__table__)
FEEDBACK = cast(Table, FeedbackRecord.__table__)
FAQ = cast(Table, FaqEntryRecord.__table__)
HANDOFFS = cast(Table, HandoffRecord.__table__)
# Outcomes that mean the FAQ had no answer the customer could use (``chatbot.policy``).
UNANSWERED = ("abstain", "fallback")


class DurableStore:
    """``async with DurableStore.open(url) as store: ...`` (or ``connect()`` / ``close()``)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @classmethod
    async def connect(cls, url: str | URL, *, migrate: bool = True) -> DurableStore:
        """Make the engine (and a SQLite file's folder) and migrate the schema to head."""
        engine = make_engine(url)
        try:
            if migrate:
                await upgrade(engine)
        except BaseException:
            await engine.dispose()
            raise
        return cls(engine)

    @classmethod
    @asynccontextmanager
    async def open(cls, url: str | URL, *, migrate: bool = True) -> AsyncIterator[DurableStore]:
        store = await cls.connect(url, migrate=migrate)
        try:
            yield store
        finally:
            await store.close()

    async def close(self) -> None:
        await self.engine.dispose()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def _connection(self, *, write: bool = False) -> AsyncIterator[AsyncConnection]:
        """A connection (a transaction when ``write``); the database failing is one typed
        error, which the API answers with a 503."""
        try:
            async with self.engine.begin() if write else self.engine.connect() as connection:
                yield connection
        except (SQLAlchemyError, OSError) as exc:
            raise DurableStoreUnavailableError(f"durable store: {exc}") from exc

    async def ping(self) -> bool:
        """Whether the database answers (for readiness checks; never raises)."""
        try:
            async with self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    # Turns

    async def add_turns(self, records: Iterable[NewTurn]) -> int:
        """Store turns in one transaction; a message id already stored is left as it is
        (so a batch written again after a failure does not fail twice). Returns how many
        records were sent."""
        rows = [_turn_row(record) for record in records]
        if not rows:
            return 0
        async with self._connection(write=True) as connection:
            await connection.execute(self._insert_new(TURNS), rows)
        return len(rows)

    async def get_turn(self, message_id: str) -> TurnRecordOut | None:
        query = select(TURNS).where(TURNS.c.message_id == message_id)
        async with self._connection() as connection:
            row = (await connection.execute(query)).mappings().first()
        return None if row is None else _turn_out(row)

    async def list_turns(
        self,
        *,
        answered_by: str | Collection[str] | None = None,
        since: datetime | None = None,
        before: datetime | None = None,
        session_id: str | None = None,
        limit: int = 100,
    ) -> list[TurnRecordOut]:
        """Turns newest first: ``since`` inclusive, ``before`` exclusive (the ``created_at``
        of the last one seen, to page on: timestamps have microseconds, so turns sharing one
        are rare); ``answered_by`` one outcome or several."""
        query = select(TURNS)
        if answered_by is not None:
            wanted = [answered_by] if isinstance(answered_by, str) else list(answered_by)
            query = query.where(TURNS.c.answered_by.in_(wanted))
        if session_id is not None:
            query = query.where(TURNS.c.session_id == session_id)
        query = _window(query, TURNS, since, before)
        query = query.order_by(TURNS.c.created_at.desc(), TURNS.c.message_id.desc())
        async with self._connection() as connection:
            rows = (await connection.execute(query.limit(_limit(limit)))).mappings().all()
        return [_turn_out(row) for row in rows]

    # Feedback

    async def add_feedback(
        self,
        message_id: str,
        session_id: str,
        rating: Rating,
        comment: str | None = None,
        *,
        created_at: datetime | None = None,
    ) -> FeedbackRecordOut:
        """Store one rating of an answer (``comment`` already masked)."""
        if rating not in RATINGS:
            raise ValueError(f"rating must be one of {sorted(RATINGS)}, not {rating!r}")
        _check_id("message_id", message_id)
        _check_id("session_id", session_id)
        when = as_utc(created_at) if created_at is not None else utcnow()
        values = {
            "message_id": message_id,
            "session_id": session_id,
            "rating": rating,
            "comment": comment,
            "created_at": when,
        }
        async with self._connection(write=True) as connection:
            result = await connection.execute(insert(FEEDBACK).values(values))
        key = result.inserted_primary_key
        assert key is not None
        return FeedbackRecordOut(
            id=int(key[0]),
            message_id=message_id,
            session_id=session_id,
            rating=rating,
            comment=comment,
            created_at=when,
        )

    async def list_feedback(
        self,
        *,
        since: datetime | None = None,
        before: datetime | None = None,
        rating: Rating | None = None,
        message_id: str | None = None,
        limit: int = 100,
    ) -> list[FeedbackRecordOut]:
        """Feedback newest first, with the same window as :meth:`list_turns`."""
        query = select(FEEDBACK)
        if rating is not None:
            query = query.where(FEEDBACK.c.rating == rating)
        if message_id is not None:
            query = query.where(FEEDBACK.c.message_id == message_id)
        query = _window(query, FEEDBACK, since, before)
        query = query.order_by(FEEDBACK.c.created_at.desc(), FEEDBACK.c.id.desc())
        async with self._connection() as connection:
            rows = (await connection.execute(query.limit(_limit(limit)))).mappings().all()
        return [FeedbackRecordOut(**dict(row)) for row in rows]

    # FAQ gaps

    async def gap_candidates(
        self, *, since: datetime | None = None, answered: bool = False, limit: int = 50_000
    ) -> list[GapCandidate]:
        """Turns with a stored question vector that the FAQ did not answer: abstained, fell
        back (retracted or withheld), followed by a request for a person, or rated down;
        newest first. ``answered``:
        those an admin FAQ entry answered instead of those still open."""
        down = select(FEEDBACK.c.message_id).where(FEEDBACK.c.rating == "down")
        handed = select(HANDOFFS.c.about).where(HANDOFFS.c.about.is_not(None))
        query = (
            select(
                TURNS.c.message_id,
                TURNS.c.question,
                TURNS.c.created_at,
                TURNS.c.answered_by,
                TURNS.c.rails,
                TURNS.c.query_vector,
                TURNS.c.gap_answer,
                TURNS.c.message_id.in_(down).label("thumbs_down"),
                TURNS.c.message_id.in_(handed).label("handed_off"),
            )
            .where(TURNS.c.query_vector.is_not(None))
            .where(
                or_(
                    TURNS.c.answered_by.in_(UNANSWERED),
                    TURNS.c.message_id.in_(down),
                    TURNS.c.message_id.in_(handed),
                )
            )
            .where(TURNS.c.gap_answer.is_not(None) if answered else TURNS.c.gap_answer.is_(None))
        )
        query = _window(query, TURNS, since, None).order_by(TURNS.c.created_at.desc())
        async with self._connection() as connection:
            rows = (await connection.execute(query.limit(_limit(limit)))).mappings().all()
        return [
            GapCandidate(
                **{
                    **dict(row),
                    "thumbs_down": bool(row["thumbs_down"]),
                    "handed_off": bool(row["handed_off"]),
                }
            )
            for row in rows
        ]

    async def answer_gap(self, message_ids: Collection[str], entry_id: str) -> int:
        """Mark the turns of a gap as answered by an admin FAQ entry."""
        if not message_ids:
            return 0
        async with self._connection(write=True) as connection:
            result = await connection.execute(
                update(TURNS)
                .where(TURNS.c.message_id.in_(list(message_ids)))
                .values(gap_answer=entry_id)
            )
        return result.rowcount

    # FAQ entries the admin wrote

    async def add_faq_entry(self, entry: FaqEntry) -> None:
        _check_id("id", entry.id)
        async with self._connection(write=True) as connection:
            await connection.execute(insert(FAQ).values(_faq_row(entry)))

    async def update_faq_entry(self, entry: FaqEntry) -> bool:
        values = _faq_row(entry)
        del values["id"], values["created_at"]
        async with self._connection(write=True) as connection:
            result = await connection.execute(
                update(FAQ).where(FAQ.c.id == entry.id).values(values)
            )
        return result.rowcount > 0

    async def delete_faq_entry(self, entry_id: str) -> bool:
        async with self._connection(write=True) as connection:
            await connection.execute(
                update(TURNS).where(TURNS.c.gap_answer == entry_id).values(gap_answer=None)
            )
            result = await connection.execute(delete(FAQ).where(FAQ.c.id == entry_id))
        return result.rowcount > 0

    async def get_faq_entry(self, entry_id: str) -> FaqEntry | None:
        async with self._connection() as connection:
            row = (
                (await connection.execute(select(FAQ).where(FAQ.c.id == entry_id)))
                .mappings()
                .first()
            )
        return None if row is None else FaqEntry(**dict(row))

    async def list_faq_entries(self) -> list[FaqEntry]:
        """Every admin entry, oldest first (the order of the admin FAQ file)."""
        query = select(FAQ).order_by(FAQ.c.created_at, FAQ.c.id)
        async with self._connection() as connection:
            rows = (await connection.execute(query)).mappings().all()
        return [FaqEntry(**dict(row)) for row in rows]

    # Handoffs

    async def add_handoff(self, handoff: NewHandoff) -> None:
        _check_id("id", handoff.id)
        _check_id("session_id", handoff.session_id)
        values = {
            "id": handoff.id,
            "session_id": handoff.session_id,
            "message_id": handoff.message_id,
            "about": handoff.about,
            "created_at": as_utc(handoff.created_at),
            "status": str(handoff.status),
            "attempts": 0,
            "last_error": None,
            "delivered_at": None,
            "transcript": list(handoff.transcript),
            "sources": list(handoff.sources),
        }
        async with self._connection(write=True) as connection:
            await connection.execute(insert(HANDOFFS).values(values))

    async def delivery_result(
        self, handoff_id: str, status: HandoffStatus, attempts: int, error: str | None
    ) -> None:
        """What the webhook delivery made of a handoff (``chatbot.handoff.DeliveryReport``)."""
        values: dict[str, Any] = {
            "status": str(status),
            "attempts": attempts,
            "last_error": error,
        }
        if status is HandoffStatus.DELIVERED:
            values["delivered_at"] = utcnow()
        async with self._connection(write=True) as connection:
            await connection.execute(
                update(HANDOFFS).where(HANDOFFS.c.id == handoff_id).values(values)
            )

    async def list_handoffs(
        self,
        *,
        status: HandoffStatus | None = None,
        since: datetime | None = None,
        before: datetime | None = None,
        limit: int = 100,
    ) -> list[HandoffOut]:
        """Handoffs newest first, with the same window as :meth:`list_turns`."""
        query = select(HANDOFFS)
        if status is not None:
            query = query.where(HANDOFFS.c.status == str(status))
        query = _window(query, HANDOFFS, since, before)
        query = query.order_by(HANDOFFS.c.created_at.desc(), HANDOFFS.c.id.desc())
        async with self._connection() as connection:
            rows = (await connection.execute(query.limit(_limit(limit)))).mappings().all()
        return [_handoff_out(row) for row in rows]

    # Erasure and retention

    async def erase_session(self, session_id: str) -> Deleted:
        """Delete every row of a session: its turns and the feedback on them."""
        its_messages = select(TURNS.c.message_id).where(TURNS.c.session_id == session_id)
        async with self._connection(write=True) as connection:
            feedback = await connection.execute(
                delete(FEEDBACK).where(
                    or_(
                        FEEDBACK.c.session_id == session_id,
                        FEEDBACK.c.message_id.in_(its_messages),
                    )
                )
            )
            turns = await connection.execute(delete(TURNS).where(TURNS.c.session_id == session_id))
            handoffs = await connection.execute(
                delete(HANDOFFS).where(HANDOFFS.c.session_id == session_id)
            )
        return Deleted(turns=turns.rowcount, feedback=feedback.rowcount, handoffs=handoffs.rowcount)

    async def purge(self, older_than: datetime) -> Deleted:
        """Retention: delete turns, feedback and handoffs created before ``older_than``."""
        cutoff = as_utc(older_than)
        async with self._connection(write=True) as connection:
            feedback = await connection.execute(
                delete(FEEDBACK).where(FEEDBACK.c.created_at < cutoff)
            )
            turns = await connection.execute(delete(TURNS).where(TURNS.c.created_at < cutoff))
            handoffs = await connection.execute(
                delete(HANDOFFS).where(HANDOFFS.c.created_at < cutoff)
            )
        return Deleted(turns=turns.rowcount, feedback=feedback.rowcount, handoffs=handoffs.rowcount)

    async def purge_expired(self, retention_days: int, *, now: datetime | None = None) -> Deleted:
        """:meth:`purge` of what is older than ``retention_days`` (``Settings.retention_days``)."""
        return await self.purge((now or utcnow()) - timedelta(days=retention_days))

    def _insert_new(self, table: Table) -> Insert:
        """An INSERT that skips rows whose primary key is already stored."""
        if self.dialect == "postgresql":
            return postgresql.insert(table).on_conflict_do_nothing()
        if self.dialect == "sqlite":
            return sqlite.insert(table).on_conflict_do_nothing()
        return insert(table)


def _limit(limit: int) -> int:
    if limit < 1:
        raise ValueError("limit must be at least 1")
    return limit


def _check_id(name: str, value: str) -> None:
    if not value or len(value) > ID_LENGTH:
        raise ValueError(f"{name} must be 1-{ID_LENGTH} characters")


def _window(
    query: Select[Any], table: Table, since: datetime | None, before: datetime | None
) -> Select[Any]:
    if since is not None:
        query = query.where(table.c.created_at >= as_utc(since))
    if before is not None:
        query = query.where(table.c.created_at < as_utc(before))
    return query


def _turn_row(record: NewTurn) -> dict[str, Any]:
    _check_id("message_id", record.message_id)
    _check_id("session_id", record.session_id)
    return {
        "message_id": record.message_id,
        "session_id": record.session_id,
        "created_at": as_utc(record.created_at),
        "question": record.question,
        "answer": record.answer,
        "answered_by": record.answered_by,
        "citations": [citation.as_json() for citation in record.citations],
        "rails": record.rails,
        "index_version": record.index_version,
        "prompt_version": record.prompt_version,
        "engine_dialect": record.engine_dialect,
        "engine_model": record.engine_model,
        "timings_ms": record.timings_ms,
        "query_vector": record.query_vector,
    }


def _faq_row(entry: FaqEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "question": entry.question,
        "answer": entry.answer,
        "category": entry.category,
        "gap_id": entry.gap_id,
        "created_at": as_utc(entry.created_at),
        "updated_at": as_utc(entry.updated_at),
    }


def _handoff_out(row: RowMapping) -> HandoffOut:
    values = dict(row)
    values["status"] = HandoffStatus(values["status"])
    values["transcript"] = tuple(values["transcript"])
    values["sources"] = tuple(values["sources"])
    return HandoffOut(**values)


def _turn_out(row: RowMapping) -> TurnRecordOut:
    values = dict(row)
    values["citations"] = tuple(Citation.from_json(c) for c in values["citations"])
    return TurnRecordOut(**values)
