"""The support loop's tables on real SQLite and PostgreSQL: gap candidates, admin FAQ
entries, handoffs, and erasure and retention of handoffs."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np

from chatbot.store import DurableStore, FaqEntry, HandoffStatus, NewHandoff, NewTurn

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
VECTOR = np.ones(4, dtype="<f2").tobytes()


def run(url: str, body: Callable[[DurableStore], Awaitable[None]]) -> None:
    async def main() -> None:
        async with DurableStore.open(url) as store:
            await body(store)

    asyncio.run(main())


def turn(
    name: str, by: str, *, rails: dict[str, object] | None = None, minutes: int = 0
) -> NewTurn:
    return NewTurn(
        message_id=name,
        session_id="session-a",
        question=f"question {name}",
        answer="answer",
        answered_by=by,
        rails=rails or {},
        created_at=T0 + timedelta(minutes=minutes),
        query_vector=VECTOR,
    )


def handoff(name: str, about: str | None, *, minutes: int = 0) -> NewHandoff:
    return NewHandoff(
        id=name,
        session_id="session-a",
        message_id=f"turn-{name}",
        transcript=({"role": "customer", "text": "I want a person"},),
        sources=({"id": "faq#1", "title": "Cards", "url": None},),
        status=HandoffStatus.PENDING,
        about=about,
        created_at=T0 + timedelta(minutes=minutes),
    )


def test_gap_candidates_are_the_turns_the_faq_did_not_answer(database_url: str) -> None:
    async def body(store: DurableStore) -> None:
        await store.add_turns(
            [
                turn("abstained", "abstain", minutes=1),
                turn("retracted", "fallback", rails={"retracted": True}, minutes=2),
                turn("answered", "curated", minutes=3),
                turn("rated-down", "model", minutes=4),
                turn("before-handoff", "faq_entry", minutes=5),
                replace(turn("no-vector", "abstain", minutes=6), query_vector=None),
            ]
        )
        await store.add_feedback("rated-down", "session-a", "down")
        await store.add_feedback("answered", "session-a", "up")
        await store.add_handoff(handoff("h1", "before-handoff", minutes=7))
        found = {c.message_id: c for c in await store.gap_candidates()}
        assert set(found) == {"abstained", "retracted", "rated-down", "before-handoff"}
        assert found["rated-down"].thumbs_down and not found["abstained"].thumbs_down
        assert found["before-handoff"].handed_off and not found["retracted"].handed_off
        assert found["retracted"].rails == {"retracted": True}
        assert found["abstained"].query_vector == VECTOR

        assert await store.answer_gap(["abstained", "retracted"], "admin-1") == 2
        still_open = {c.message_id for c in await store.gap_candidates()}
        assert still_open == {"rated-down", "before-handoff"}
        answered = await store.gap_candidates(answered=True)
        assert {c.gap_answer for c in answered} == {"admin-1"}
        late = await store.gap_candidates(since=T0 + timedelta(minutes=4, seconds=30))
        assert [c.message_id for c in late] == ["before-handoff"]

    run(database_url, body)


def test_admin_faq_entries_round_trip(database_url: str) -> None:
    async def body(store: DurableStore) -> None:
        first = FaqEntry("admin-1", "Can I buy bitcoin?", "No.", None, "gap-1", T0, T0)
        second = FaqEntry(
            "admin-2", "Do you have a crypto card?", "Not yet.", "Cards", None, T0, T0
        )
        await store.add_faq_entry(second)
        await store.add_faq_entry(replace(first, created_at=T0 - timedelta(days=1)))
        assert [e.id for e in await store.list_faq_entries()] == ["admin-1", "admin-2"]
        changed = replace(second, answer="Yes, since May.", updated_at=T0 + timedelta(hours=1))
        assert await store.update_faq_entry(changed)
        got = await store.get_faq_entry("admin-2")
        assert got is not None and got.answer == "Yes, since May." and got.created_at == T0
        assert got.updated_at == T0 + timedelta(hours=1)
        assert not await store.update_faq_entry(replace(second, id="admin-none"))

        await store.add_turns([turn("abstained", "abstain")])
        await store.answer_gap(["abstained"], "admin-1")
        assert await store.delete_faq_entry("admin-1")
        assert not await store.delete_faq_entry("admin-1")
        assert await store.get_faq_entry("admin-1") is None
        # Its gap is open again: the answer that closed it is gone.
        assert [c.message_id for c in await store.gap_candidates()] == ["abstained"]

    run(database_url, body)


def test_handoffs_record_their_delivery_and_are_erased_with_the_session(
    database_url: str,
) -> None:
    async def body(store: DurableStore) -> None:
        await store.add_handoff(handoff("h1", None, minutes=1))
        await store.add_handoff(handoff("h2", "t", minutes=2))
        await store.add_handoff(replace(handoff("h3", None, minutes=3), session_id="session-b"))
        await store.delivery_result("h1", HandoffStatus.DELIVERED, 2, None)
        await store.delivery_result("h2", HandoffStatus.FAILED, 5, "HTTP 503")

        listed = await store.list_handoffs()
        assert [h.id for h in listed] == ["h3", "h2", "h1"]
        by_id = {h.id: h for h in listed}
        assert by_id["h1"].status is HandoffStatus.DELIVERED
        assert by_id["h1"].delivered_at is not None and by_id["h1"].attempts == 2
        assert by_id["h2"].last_error == "HTTP 503" and by_id["h2"].delivered_at is None
        assert by_id["h2"].about == "t"
        assert by_id["h3"].transcript == ({"role": "customer", "text": "I want a person"},)
        failed = await store.list_handoffs(status=HandoffStatus.FAILED)
        assert [h.id for h in failed] == ["h2"]
        page = await store.list_handoffs(limit=1, before=T0 + timedelta(minutes=3))
        assert [h.id for h in page] == ["h2"]

        erased = await store.erase_session("session-a")
        assert erased.handoffs == 2
        assert [h.id for h in await store.list_handoffs()] == ["h3"]
        purged = await store.purge(T0 + timedelta(days=1))
        assert purged.handoffs == 1

    run(database_url, body)
