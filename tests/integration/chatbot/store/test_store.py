"""The durable store on real databases (SQLite through aiosqlite, and PostgreSQL through
asyncpg when the machine has it): migrations, turns, feedback, erasure, retention and the
turn log end to end. No mocks of the database."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection, make_url

from chatbot.store import Citation, DurableStore, NewTurn, TurnLog, TurnRecordOut
from chatbot.store.engine import make_engine, sqlite_file
from chatbot.store.migrations import alembic_config, current_revision, head_revision, upgrade
from chatbot.store.models import Base

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def run(url: str, body: Callable[[DurableStore], Awaitable[None]]) -> None:
    async def main() -> None:
        async with DurableStore.open(url) as store:
            await body(store)

    asyncio.run(main())


def turn(i: int, *, session: str = "session-a", by: str = "model", minutes: int = 0) -> NewTurn:
    return NewTurn(
        message_id=f"msg-{i:04d}",
        session_id=session,
        question=f"question {i} from <PERSON>",
        answer=f"answer {i}",
        answered_by=by,
        citations=(
            Citation(id=f"faq-{i}", title="Fees", url="https://bank.example/fees", score=0.5),
        ),
        rails={"input_rails": ["jailbreak", "pii"], "blocked": False, "pii_masked": ["PERSON"]},
        index_version="20261201-120000",
        prompt_version="grounded-v3",
        engine_dialect="llmapi",
        engine_model="smollm2-135m",
        timings_ms={"retrieval": 4.5, "total": 120.25},
        created_at=T0 + timedelta(minutes=minutes if minutes else i),
    )


def test_migrations_on_a_fresh_database(database_url: str) -> None:
    def schema(connection: Connection) -> tuple[set[str], set[str], list[object]]:
        inspector = inspect(connection)
        tables = set(inspector.get_table_names())
        indexes = {
            ix["name"] or "" for t in ("turns", "feedback") for ix in inspector.get_indexes(t)
        }
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        return tables, indexes, diff

    async def main() -> None:
        assert await current_revision(database_url) is None
        await upgrade(database_url)
        assert await current_revision(database_url) == head_revision()
        await upgrade(database_url)  # a second upgrade changes nothing
        assert await current_revision(database_url) == head_revision()
        engine = make_engine(database_url)
        try:
            async with engine.connect() as connection:
                tables, indexes, diff = await connection.run_sync(schema)
        finally:
            await engine.dispose()
        assert {"turns", "feedback", "alembic_version"} <= tables
        assert {"ix_turns_session_id", "ix_turns_created_at", "ix_feedback_message_id"} <= indexes
        assert diff == [], "the models and the migrations disagree"

    asyncio.run(main())
    path = sqlite_file(make_url(database_url))
    if path is not None:
        assert path.is_file()  # its folder was created


def test_the_alembic_command_path_upgrades_and_downgrades(database_url: str) -> None:
    """What a developer runs (a URL in the config, no shared connection): env.py's own
    async engine; and the initial revision's downgrade drops what it created."""
    config = alembic_config(database_url)
    command.upgrade(config, "head")
    assert asyncio.run(current_revision(database_url)) == head_revision()
    command.downgrade(config, "base")
    assert asyncio.run(current_revision(database_url)) is None

    async def tables() -> set[str]:
        engine = make_engine(database_url)
        try:
            async with engine.connect() as connection:
                names = await connection.run_sync(lambda c: inspect(c).get_table_names())
        finally:
            await engine.dispose()
        return set(names)

    assert not {"turns", "feedback"} & asyncio.run(tables())


def test_concurrent_starts_migrate_once(database_url: str) -> None:
    async def main() -> None:
        await asyncio.gather(*(upgrade(database_url) for _ in range(3)))
        assert await current_revision(database_url) == head_revision()

    asyncio.run(main())


def test_a_turn_comes_back_as_it_went_in(database_url: str) -> None:
    async def body(store: DurableStore) -> None:
        assert await store.ping()
        sent = turn(1)
        assert await store.add_turns([sent]) == 1
        got = await store.get_turn("msg-0001")
        assert got is not None
        assert got.created_at.tzinfo is not None and got.created_at == sent.created_at
        for name in NewTurn.__dataclass_fields__:
            assert getattr(got, name) == getattr(sent, name), name
        assert await store.get_turn("msg-9999") is None
        # A batch written again (a retry) keeps the first record and does not fail.
        changed = NewTurn(**{**{n: getattr(sent, n) for n in NewTurn.__dataclass_fields__},
                             "answer": "other"})  # fmt: skip
        await store.add_turns([changed, turn(2)])
        first = await store.get_turn("msg-0001")
        assert first is not None and first.answer == "answer 1"
        assert await store.get_turn("msg-0002") is not None
        assert await store.add_turns([]) == 0

    run(database_url, body)


def test_listing_turns_with_filters(database_url: str) -> None:
    async def body(store: DurableStore) -> None:
        outcomes = ["model", "abstain", "curated", "abstain", "retracted"] * 4
        await store.add_turns(
            turn(i, session="session-a" if i % 2 else "session-b", by=outcomes[i - 1])
            for i in range(1, 21)
        )

        def ids(turns: list[TurnRecordOut]) -> list[int]:
            return [int(t.message_id.removeprefix("msg-")) for t in turns]

        everything = await store.list_turns()
        assert ids(everything) == list(range(20, 0, -1))  # newest first
        assert ids(await store.list_turns(answered_by="abstain")) == [19, 17, 14, 12, 9, 7, 4, 2]
        both = await store.list_turns(answered_by=["abstain", "retracted"], limit=3)
        assert ids(both) == [20, 19, 17]
        assert ids(await store.list_turns(since=T0 + timedelta(minutes=18))) == [20, 19, 18]
        assert ids(await store.list_turns(session_id="session-b", limit=2)) == [20, 18]
        assert ids(await store.list_turns(session_id="nobody")) == []
        # Paging: ``before`` the last one seen.
        pages, before = [], None
        while page := await store.list_turns(limit=6, before=before):
            pages.append(ids(page))
            before = page[-1].created_at
        assert pages == [[20, 19, 18, 17, 16, 15], [14, 13, 12, 11, 10, 9], [8, 7, 6, 5, 4, 3],
                         [2, 1]]  # fmt: skip
        # A naive ``since`` is UTC.
        naive = (T0 + timedelta(minutes=19)).replace(tzinfo=None)
        assert ids(await store.list_turns(since=naive)) == [20, 19]
        with pytest.raises(ValueError):
            await store.list_turns(limit=0)

    run(database_url, body)


def test_feedback(database_url: str) -> None:
    async def body(store: DurableStore) -> None:
        await store.add_turns([turn(1), turn(2)])
        up = await store.add_feedback("msg-0001", "session-a", "up", created_at=T0)
        down = await store.add_feedback(
            "msg-0002", "session-a", "down", "wrong fee for <PERSON>", created_at=T0 + timedelta(1)
        )
        later = await store.add_feedback("msg-0002", "session-a", "up")
        assert up.id != down.id and down.comment == "wrong fee for <PERSON>"
        assert [f.id for f in await store.list_feedback()] == [later.id, down.id, up.id]
        assert await store.list_feedback(rating="down") == [down]
        on_two = await store.list_feedback(message_id="msg-0002")
        assert [f.id for f in on_two] == [later.id, down.id]
        assert await store.list_feedback(since=T0 + timedelta(hours=1), rating="down") == [down]
        assert await store.list_feedback(before=T0 + timedelta(hours=1)) == [up]
        assert (await store.list_feedback(limit=1))[0].created_at.tzinfo is not None
        with pytest.raises(ValueError):
            await store.add_feedback("msg-0001", "session-a", "meh")  # type: ignore[arg-type]

    run(database_url, body)


def test_erasing_a_session_erases_its_rows(database_url: str) -> None:
    async def body(store: DurableStore) -> None:
        await store.add_turns([turn(1), turn(2), turn(3, session="session-b")])
        await store.add_feedback("msg-0001", "session-a", "up")
        await store.add_feedback("msg-0003", "session-b", "down")
        erased = await store.erase_session("session-a")
        assert (erased.turns, erased.feedback) == (2, 1)
        assert [t.message_id for t in await store.list_turns()] == ["msg-0003"]
        assert [f.message_id for f in await store.list_feedback()] == ["msg-0003"]
        assert (await store.erase_session("session-a")).total == 0

    run(database_url, body)


def test_retention_purges_old_rows(database_url: str) -> None:
    async def body(store: DurableStore) -> None:
        now = datetime.now(UTC)
        old = NewTurn(message_id="old", session_id="s-old", question="q", answer="a",
                      answered_by="model", created_at=now - timedelta(days=100))  # fmt: skip
        await store.add_turns([old, NewTurn(message_id="new", session_id="s-new", question="q",
                                            answer="a", answered_by="model")])  # fmt: skip
        await store.add_feedback("old", "s-old", "down", created_at=now - timedelta(days=100))
        await store.add_feedback("new", "s-new", "up")
        purged = await store.purge_expired(90)
        assert (purged.turns, purged.feedback) == (1, 1)
        assert [t.message_id for t in await store.list_turns()] == ["new"]
        assert [f.message_id for f in await store.list_feedback()] == ["new"]
        assert (await store.purge(now - timedelta(days=1))).total == 0
        assert (await store.purge(now + timedelta(days=1))).total == 2

    run(database_url, body)


def test_the_turn_log_writes_every_record_it_accepted(database_url: str) -> None:
    async def body(store: DurableStore) -> None:
        async with TurnLog(store, maxsize=2_000, batch_size=100, flush_ms=20) as turns:
            for i in range(1_000):
                assert turns.submit(turn(i, session=f"session-{i % 7}", minutes=1))
                if i % 50 == 0:
                    await asyncio.sleep(0)  # let the writer run now and then, as a server does
        assert (turns.dropped, turns.failed, turns.written) == (0, 0, 1_000)
        assert len(await store.list_turns(limit=5_000)) == 1_000

    run(database_url, body)


def test_ping_is_false_when_the_database_is_unreachable(tmp_path: Path) -> None:
    async def main() -> None:
        store = DurableStore(make_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none"))
        try:
            assert not await store.ping()
        finally:
            await store.close()

    asyncio.run(main())
