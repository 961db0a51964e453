"""Alembic's environment for the durable store (async engines, SQLite and PostgreSQL).

:func:`chatbot.store.migrations.upgrade` hands in an open connection (``attributes``); the
``alembic`` command instead gives a URL (``sqlalchemy.url``), for which an async engine is
made here. SQLite uses batch mode, since it cannot alter most of a table in place.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

from chatbot.store.engine import make_engine
from chatbot.store.models import Base

config = context.config
target_metadata = Base.metadata


def run_offline() -> None:
    """``alembic upgrade --sql``: the SQL a DBA can review and run."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_from_url() -> None:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set sqlalchemy.url (alembic -x or the config) to migrate")
    engine = make_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(run_on)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    run_offline()
elif (shared := config.attributes.get("connection")) is not None:
    run_on(shared)
else:
    asyncio.run(run_from_url())
