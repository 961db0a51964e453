from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from chatbot.errors import DurableStoreUnavailableError
from chatbot.store import DurableStore


# aiosqlite's worker thread reports the refused open itself, besides raising it to us.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_database_that_cannot_be_opened_is_one_typed_error() -> None:
    store = DurableStore(create_async_engine("sqlite+aiosqlite:////proc/no-such-dir/x.db"))

    async def use() -> None:
        try:
            assert await store.ping() is False
            with pytest.raises(DurableStoreUnavailableError, match="durable store"):
                await store.list_turns()
            with pytest.raises(DurableStoreUnavailableError):
                await store.erase_session("session-1")
        finally:
            await store.close()

    asyncio.run(use())
