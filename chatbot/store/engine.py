"""One way to make the store's async engine, shared by the store and its migrations.

A URL with a sync driver (``sqlite:///``, ``postgresql://``) is given its async driver
(aiosqlite, asyncpg), so ``CHATBOT_DATABASE_URL`` can be written the usual way. SQLite gets
the settings an embedded log needs: the parent folder of the file created, WAL (admin reads
do not wait on the writer), a busy timeout, and transactions that SQLAlchemy begins itself,
so DDL runs inside them and a migration can take the write lock up front
(``sqlite_begin="IMMEDIATE"``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_random

_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}
_BEGIN = {"DEFERRED": "BEGIN DEFERRED", "IMMEDIATE": "BEGIN IMMEDIATE"}
BUSY_TIMEOUT_MS = 10_000


def async_url(url: str | URL) -> URL:
    """The URL with an async driver: the sync defaults are swapped, explicit ones kept."""
    if isinstance(url, str) and url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    parsed = make_url(url)
    if parsed.drivername in _ASYNC_DRIVERS:
        parsed = parsed.set(drivername=_ASYNC_DRIVERS[parsed.drivername])
    return parsed


def sqlite_file(url: str | URL) -> Path | None:
    """The file a SQLite URL names (relative to the working directory), if it names one."""
    parsed = make_url(url) if isinstance(url, str) else url
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _to_json(value: Any) -> str:
    # msgspec (Litestar's encoder) writes the JSON columns several times faster than the
    # stdlib, and the turn log writes three per turn on the event loop.
    return msgspec.json.encode(value).decode()


def make_engine(url: str | URL, **kwargs: Any) -> AsyncEngine:
    """An async engine for ``url``; for a SQLite file, its folder is created first."""
    parsed = async_url(url)
    kwargs.setdefault("json_serializer", _to_json)
    if parsed.get_backend_name() != "sqlite":
        return create_async_engine(parsed, pool_pre_ping=True, **kwargs)
    path = sqlite_file(parsed)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(parsed, **kwargs)
    event.listen(engine.sync_engine, "connect", _sqlite_connect(wal=path is not None))
    event.listen(engine.sync_engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(*, wal: bool) -> Callable[[Any, Any], None]:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # SQLAlchemy's documented recipe: the driver emits no BEGIN of its own ...
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS:d}")
            if wal:
                # Switching to WAL needs the file to itself; SQLite answers "database is
                # locked" at once, without its busy timeout, when another start holds it.
                for attempt in Retrying(
                    retry=retry_if_exception(lambda exc: "locked" in str(exc)),
                    stop=stop_after_delay(BUSY_TIMEOUT_MS / 1000),
                    wait=wait_random(0.01, 0.1),
                    reraise=True,
                ):
                    with attempt:
                        cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    return on_connect


def _sqlite_begin(connection: Connection) -> None:
    # ... and each transaction's BEGIN is ours, DEFERRED unless the caller asked otherwise.
    mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
    connection.exec_driver_sql(_BEGIN[mode])
