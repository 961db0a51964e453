"""One contract, two session stores: in-process memory and a real Redis.

Redis is the one this machine kind runs on 127.0.0.1:6379 (CHATBOT_TEST_REDIS_URL to point
elsewhere); if it is not there the Redis cases fail, they never skip.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable

import pytest

from chatbot.errors import InvalidSessionIdError, SessionStoreUnavailableError
from chatbot.sessions import (
    MemorySessionStore,
    RedisSessionStore,
    SessionStore,
    Turn,
    new_session_id,
)

REDIS_URL = os.environ.get("CHATBOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
Factory = Callable[..., SessionStore]


def _memory(**kwargs: int) -> SessionStore:
    return MemorySessionStore(**kwargs)


def _redis(**kwargs: int) -> SessionStore:
    # A fresh key prefix per store keeps tests apart on a shared server.
    return RedisSessionStore(REDIS_URL, prefix=f"test:{uuid.uuid4().hex}:", **kwargs)


@pytest.fixture(params=[_memory, _redis], ids=["memory", "redis"])
def make(request: pytest.FixtureRequest) -> Factory:
    factory: Factory = request.param
    return factory


async def _open(make: Factory, **kwargs: int) -> AsyncIterator[SessionStore]:
    store = make(**kwargs)
    try:
        assert await store.ping(), "the session store is not reachable"
        yield store
    finally:
        await store.close()


def run(coro_fn: Callable[[SessionStore], object], make: Factory, **kwargs: int) -> None:
    async def main() -> None:
        async for store in _open(make, **kwargs):
            await coro_fn(store)  # type: ignore[misc]

    asyncio.run(main())


def test_append_and_history_in_order(make: Factory) -> None:
    async def check(store: SessionStore) -> None:
        sid = new_session_id()
        assert await store.history(sid) == []
        first = await store.append(sid, Turn("hi", "hello", citations=[{"id": "a#1"}]))
        second = await store.append(sid, Turn("card lost", "freeze it", timings_ms={"x": 1.5}))
        history = await store.history(sid)
        assert history == [first, second]
        assert history[0].citations == [{"id": "a#1"}]
        assert await store.history(sid, limit=1) == [second]
        assert first.message_id != second.message_id

    run(check, make)


def test_history_is_bounded(make: Factory) -> None:
    async def check(store: SessionStore) -> None:
        sid = new_session_id()
        for i in range(7):
            await store.append(sid, Turn(f"q{i}", f"a{i}"))
        assert [t.user for t in await store.history(sid)] == ["q4", "q5", "q6"]

    run(check, make, max_turns=3)


def test_sessions_expire(make: Factory) -> None:
    async def check(store: SessionStore) -> None:
        sid = new_session_id()
        await store.append(sid, Turn("q", "a"))
        await asyncio.sleep(2.2)
        assert await store.history(sid) == []

    run(check, make, ttl_seconds=1)


def test_delete(make: Factory) -> None:
    async def check(store: SessionStore) -> None:
        sid, other = new_session_id(), new_session_id()
        await store.append(sid, Turn("q", "a"))
        await store.append(other, Turn("q2", "a2"))
        assert await store.delete(sid) is True
        assert await store.delete(sid) is False
        assert await store.history(sid) == []
        assert len(await store.history(other)) == 1

    run(check, make)


def test_concurrent_appends_are_atomic(make: Factory) -> None:
    async def check(store: SessionStore) -> None:
        sid = new_session_id()
        turns = [Turn(f"q{i}", f"a{i}") for i in range(60)]
        await asyncio.gather(*(store.append(sid, t) for t in turns))
        kept = await store.history(sid)
        assert len(kept) == 10
        assert len({t.message_id for t in kept}) == 10
        assert {t.message_id for t in kept} <= {t.message_id for t in turns}

    run(check, make, max_turns=10)


@pytest.mark.parametrize(
    "bad", ["", "short", "x" * 65, "../../etc/passwd", "id with spaces", "chatbot:session:*"]
)
def test_bad_session_ids_are_refused(make: Factory, bad: str) -> None:
    async def check(store: SessionStore) -> None:
        with pytest.raises(InvalidSessionIdError):
            await store.history(bad)
        with pytest.raises(InvalidSessionIdError):
            await store.append(bad, Turn("q", "a"))

    run(check, make)


def test_unreachable_redis_is_a_typed_error() -> None:
    async def main() -> None:
        store = RedisSessionStore("redis://127.0.0.1:1/0")
        try:
            assert await store.ping() is False
            with pytest.raises(SessionStoreUnavailableError):
                await store.append(new_session_id(), Turn("q", "a"))
        finally:
            await store.close()

    asyncio.run(main())
