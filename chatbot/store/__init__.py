"""The durable store (issue 27): turn provenance and feedback that outlive sessions.

SQLAlchemy 2 (async) over SQLite by default (a file under ``.chatbot/``) or PostgreSQL,
with Alembic migrations run at connect. Text is stored PII-masked: callers mask first.
"""

from __future__ import annotations

from chatbot.store.records import (
    Citation,
    Deleted,
    FeedbackRecordOut,
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
    "FeedbackRecordOut",
    "NewTurn",
    "Rating",
    "TurnLog",
    "TurnRecordOut",
]
