"""The durable store: turn provenance, feedback, admin FAQ entries and handoffs, which
outlive sessions.

SQLAlchemy 2 (async) over SQLite by default (a file under ``.chatbot/``) or PostgreSQL,
with Alembic migrations run at connect. Text is stored PII-masked: callers mask first.
"""

from __future__ import annotations

from chatbot.store.records import (
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
)
from chatbot.store.store import DurableStore
from chatbot.store.turnlog import TurnLog

__all__ = [
    "Citation",
    "Deleted",
    "DurableStore",
    "FaqEntry",
    "FeedbackRecordOut",
    "GapCandidate",
    "HandoffOut",
    "HandoffStatus",
    "NewHandoff",
    "NewTurn",
    "Rating",
    "TurnLog",
    "TurnRecordOut",
]
