"""The handoff desk: the reply promises a transfer only when one was made."""

from __future__ import annotations

import asyncio
from typing import Any

from chatbot.desk import NO_CONTACT, PASSED, HandoffDesk, payload, sources, transcript
from chatbot.errors import DurableStoreUnavailableError
from chatbot.sessions import Turn
from chatbot.store import HandoffOut, HandoffStatus, NewHandoff

HISTORY = [
    Turn(
        user="my card is lost",
        assistant="Call us to block it.",
        message_id="m1",
        citations=[{"id": "faq#lost", "title": "Lost card", "url": "https://bank.example/lost"}],
    ),
    Turn(
        user="and abroad?",
        assistant="The same.",
        message_id="m2",
        citations=[{"id": "faq#abroad", "title": "Abroad", "url": None}, {"id": "faq#lost"}],
    ),
]


class Store:
    def __init__(self, *, down: bool = False) -> None:
        self.down = down
        self.added: list[NewHandoff] = []
        self.results: list[tuple[str, HandoffStatus, int, str | None]] = []

    async def add_handoff(self, handoff: NewHandoff) -> None:
        if self.down:
            raise DurableStoreUnavailableError("durable store: connection refused")
        self.added.append(handoff)

    async def list_handoffs(
        self, *, status: HandoffStatus | None = None, limit: int = 100
    ) -> list[HandoffOut]:
        return []

    async def delivery_result(
        self, handoff_id: str, status: HandoffStatus, attempts: int, error: str | None
    ) -> None:
        self.results.append((handoff_id, status, attempts, error))


class Delivery:
    def __init__(self, *, accepts: bool = True) -> None:
        self.accepts = accepts
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def submit(self, handoff_id: str, body: dict[str, Any]) -> bool:
        self.sent.append((handoff_id, body))
        return self.accepts


def hand_off(desk: HandoffDesk) -> str:
    return asyncio.run(desk.hand_off("session-1", "m3", HISTORY, "I want a person"))


def test_with_a_webhook_the_handoff_is_stored_and_sent() -> None:
    store, delivery = Store(), Delivery()
    reply = hand_off(HandoffDesk(store, delivery, ""))
    assert reply == PASSED
    [stored] = store.added
    assert stored.status is HandoffStatus.PENDING
    assert stored.about == "m2" and stored.message_id == "m3"
    assert stored.transcript[-1] == {"role": "customer", "text": "I want a person"}
    [(handoff_id, body)] = delivery.sent
    assert handoff_id == stored.id == body["handoff_id"]
    assert body["event"] == "handoff.created"
    assert [s["id"] for s in body["sources"]] == ["faq#abroad", "faq#lost"]


def test_without_a_webhook_the_customer_is_told_how_to_reach_support() -> None:
    store = Store()
    assert hand_off(HandoffDesk(store, None, "")) == NO_CONTACT
    assert "call 0800 123 456" in hand_off(HandoffDesk(store, None, "call 0800 123 456"))
    assert [h.status for h in store.added] == [HandoffStatus.NOT_CONFIGURED] * 2


def test_no_promise_when_the_record_or_the_delivery_fails() -> None:
    delivery = Delivery()
    assert hand_off(HandoffDesk(Store(down=True), delivery, "")) == NO_CONTACT
    assert delivery.sent == []
    store = Store()
    assert hand_off(HandoffDesk(store, Delivery(accepts=False), "")) == NO_CONTACT
    [(_, status, attempts, error)] = store.results
    assert status is HandoffStatus.FAILED and attempts == 0 and error


def test_transcript_and_sources() -> None:
    lines = transcript(HISTORY, "help")
    assert [line["role"] for line in lines] == ["customer", "assistant"] * 2 + ["customer"]
    assert transcript([], "help") == ({"role": "customer", "text": "help"},)
    assert [s["id"] for s in sources(HISTORY)] == ["faq#abroad", "faq#lost"]
    handoff = NewHandoff("h", "s", "m", lines, (), HandoffStatus.PENDING)
    assert payload(handoff)["transcript"] == list(lines)
