"""URLs the store accepts and the SQLite file they name; UTC handling of timestamps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from chatbot.settings import Settings
from chatbot.store.engine import async_url, sqlite_file
from chatbot.store.records import Citation, as_utc


def test_sync_drivers_get_their_async_driver() -> None:
    assert async_url("sqlite:///x.db").drivername == "sqlite+aiosqlite"
    assert async_url("postgresql://u:p@h/db").drivername == "postgresql+asyncpg"
    assert async_url("postgres://u:p@h:5433/db").render_as_string(hide_password=False) == (
        "postgresql+asyncpg://u:p@h:5433/db"
    )
    assert async_url("sqlite+aiosqlite:///x.db").drivername == "sqlite+aiosqlite"


def test_the_default_database_is_a_file_under_dot_chatbot() -> None:
    assert sqlite_file(Settings().database_url) == Path(".chatbot/chatbot.db")
    assert sqlite_file("sqlite+aiosqlite:////srv/chatbot.db") == Path("/srv/chatbot.db")
    assert sqlite_file("sqlite+aiosqlite:///:memory:") is None
    assert sqlite_file("sqlite+aiosqlite://") is None
    assert sqlite_file("postgresql+asyncpg://h/db") is None


def test_settings_bounds() -> None:
    settings = Settings()
    assert (settings.retention_days, settings.turn_log_queue) == (90, 10_000)


def test_times_are_utc() -> None:
    naive = datetime(2026, 1, 2, 3, 4, 5)
    assert as_utc(naive) == naive.replace(tzinfo=UTC)
    paris = datetime(2026, 1, 2, 4, 4, 5, tzinfo=timezone(timedelta(hours=1)))
    assert as_utc(paris) == naive.replace(tzinfo=UTC)
    assert as_utc(paris).tzinfo is UTC


def test_citations_from_the_pipeline_keep_what_the_log_needs() -> None:
    raw = {"id": "faq-1", "title": "Fees", "source": "faq.csv", "url": None, "score": 0.8}
    raw["kind"] = "faq"
    citation = Citation.from_json(raw)
    assert citation == Citation(id="faq-1", title="Fees", url=None, score=0.8, kind="faq")
    assert Citation.from_json(citation.as_json()) == citation
