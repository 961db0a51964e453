"""The durable store's Alembic migrations, run from code: no ``alembic.ini`` at run time.

:func:`upgrade` brings a database to the newest revision through the async engine (Alembic's
connection-sharing pattern: the sync migration code runs inside ``run_sync``). Concurrent
starts (API replicas, several workers) are serialised: PostgreSQL through a transaction-level
advisory lock, SQLite through ``BEGIN IMMEDIATE``; the second one finds the schema at head and
does nothing. Developers can still use the ``alembic`` command with :func:`alembic_config`'s
options (``script_location`` is this folder).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import URL, Connection
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

from chatbot.store.engine import make_engine

MIGRATIONS = Path(__file__).resolve().parent
# pg_advisory_xact_lock's key for "the chatbot's schema is being migrated" (any constant).
_LOCK_KEY = 0x43484154424F54


def alembic_config(url: str | URL | None = None) -> Config:
    """Alembic's configuration, built in code; ``url`` only for the ``alembic`` command."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    if url is not None:
        rendered = url if isinstance(url, str) else url.render_as_string(hide_password=False)
        config.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    return config


def head_revision() -> str:
    """The newest revision these migrations know."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "no migration revisions found"
    return head


async def upgrade(target: str | URL | AsyncEngine, revision: str = "head") -> None:
    """Migrate the database at ``target`` (a URL or an engine) to ``revision``."""
    engine = target if isinstance(target, AsyncEngine) else make_engine(target, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            dialect = connection.dialect.name
            if dialect == "sqlite":
                connection = await connection.execution_options(sqlite_begin="IMMEDIATE")
            async with connection.begin():
                if dialect == "postgresql":
                    await connection.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY}
                    )
                await connection.run_sync(_upgrade, revision)
    finally:
        if engine is not target:
            await engine.dispose()


async def current_revision(target: str | URL | AsyncEngine) -> str | None:
    """The revision the database at ``target`` is at (``None``: never migrated)."""
    engine = target if isinstance(target, AsyncEngine) else make_engine(target, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_current)
    finally:
        if engine is not target:
            await engine.dispose()


def _upgrade(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()
