"""The handoff desk: what happens when a customer asks for a person.

The bot only promises a transfer it makes. With a webhook configured, the desk stores a
handoff record (the masked transcript and the sources the bot cited) and hands it to
:class:`chatbot.handoff.WebhookDelivery`; the reply says the conversation was passed on.
Without a webhook, or when the record cannot be stored, the record is kept as
``not_configured`` where possible and the reply says how to reach support
(``Settings.support_contact``) instead. At start, :meth:`HandoffDesk.resume` sends again the
handoffs a stop left ``pending`` (delivery is at least once: receivers de-duplicate on the
handoff id).
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Sequence
from typing import Any, Protocol

from chatbot.errors import DurableStoreUnavailableError
from chatbot.sessions import Turn
from chatbot.store import HandoffOut, HandoffStatus, NewHandoff

log = logging.getLogger("chatbot.handoff")

PASSED = (
    "I've passed our conversation to a member of our support team, who will pick it up from here."
)
CONTACT = "To talk to a person, please contact our support team: {contact}"
NO_CONTACT = (
    "To talk to a person, please contact our support team through the contact details on "
    "our website."
)
MAX_TRANSCRIPT_TURNS = 20


class HandoffStore(Protocol):
    async def add_handoff(self, handoff: NewHandoff) -> None: ...

    async def list_handoffs(
        self, *, status: HandoffStatus | None = None, limit: int = 100
    ) -> list[HandoffOut]: ...

    async def delivery_result(
        self, handoff_id: str, status: HandoffStatus, attempts: int, error: str | None
    ) -> None: ...


class Delivery(Protocol):
    def submit(self, handoff_id: str, payload: dict[str, Any]) -> bool: ...


def transcript(history: Sequence[Turn], message: str) -> tuple[dict[str, str], ...]:
    """The conversation as the session kept it (masked), the customer's request last."""
    lines: list[dict[str, str]] = []
    for turn in history[-MAX_TRANSCRIPT_TURNS:]:
        lines.append({"role": "customer", "text": turn.user})
        lines.append({"role": "assistant", "text": turn.assistant})
    lines.append({"role": "customer", "text": message})
    return tuple(lines)


def sources(history: Sequence[Turn]) -> tuple[dict[str, Any], ...]:
    """The FAQ entries the bot's answers cited, each once, most recent first."""
    seen: dict[str, dict[str, Any]] = {}
    for turn in reversed(history):
        for cited in turn.citations:
            key = str(cited.get("id", ""))
            if key and key not in seen:
                seen[key] = {"id": key, "title": cited.get("title"), "url": cited.get("url")}
    return tuple(seen.values())


def payload(handoff: NewHandoff | HandoffOut) -> dict[str, Any]:
    """The webhook's body (documented in the README)."""
    return {
        "event": "handoff.created",
        "handoff_id": handoff.id,
        "session_id": handoff.session_id,
        "message_id": handoff.message_id,
        "created_at": handoff.created_at.isoformat(),
        "transcript": list(handoff.transcript),
        "sources": list(handoff.sources),
    }


class HandoffDesk:
    def __init__(self, store: HandoffStore, delivery: Delivery | None, contact: str) -> None:
        self.store = store
        self.delivery = delivery
        self.contact = contact.strip()

    @property
    def unreachable(self) -> str:
        """How to reach support when nothing is passed on."""
        return CONTACT.format(contact=self.contact) if self.contact else NO_CONTACT

    async def hand_off(
        self, session_id: str, message_id: str, history: Sequence[Turn], message: str
    ) -> str:
        """Record the handoff, start its delivery, and say what was done."""
        status = HandoffStatus.PENDING if self.delivery else HandoffStatus.NOT_CONFIGURED
        handoff = NewHandoff(
            id=uuid.uuid4().hex,
            session_id=session_id,
            message_id=message_id,
            transcript=transcript(history, message),
            sources=sources(history),
            status=status,
            about=history[-1].message_id if history else None,
        )
        try:
            await self.store.add_handoff(handoff)
        except DurableStoreUnavailableError:
            log.warning("a handoff could not be stored; the customer was given the contact")
            return self.unreachable
        if self.delivery is None:
            return self.unreachable
        if not self.delivery.submit(handoff.id, payload(handoff)):
            with contextlib.suppress(DurableStoreUnavailableError):
                await self.store.delivery_result(
                    handoff.id, HandoffStatus.FAILED, 0, "the delivery queue was full"
                )
            return self.unreachable
        return PASSED

    async def resume(self, limit: int = 1000) -> int:
        """Queue again the handoffs still ``pending`` in the store (a stop cut their delivery
        short, or the queue was full), oldest first; returns how many were queued."""
        if self.delivery is None:
            return 0
        pending = await self.store.list_handoffs(status=HandoffStatus.PENDING, limit=limit)
        queued = 0
        for handoff in reversed(pending):
            if not self.delivery.submit(handoff.id, payload(handoff)):
                break
            queued += 1
        if queued:
            log.info("handoff: %d pending handoffs queued again for delivery", queued)
        return queued
