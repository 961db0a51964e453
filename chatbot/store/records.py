"""What goes into the durable store and what comes out: frozen dataclasses, not ORM rows.

The pipeline builds a :class:`NewTurn` on the response path (a dataclass is cheap to make and
holds no database state); the store returns :class:`TurnRecordOut` and
:class:`FeedbackRecordOut`, detached from any session, so callers never trigger lazy loads.
Every text field holds PII-masked text: the caller masks, the store keeps what it is given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

Rating = Literal["up", "down"]
RATINGS: frozenset[str] = frozenset({"up", "down"})


class HandoffStatus(StrEnum):
    """Where a handoff to a person stands."""

    PENDING = "pending"
    """Waiting for (another) webhook delivery."""
    DELIVERED = "delivered"
    """The webhook answered 2xx."""
    FAILED = "failed"
    """Every attempt failed, or the webhook refused it (a 4xx other than 408/429)."""
    NOT_CONFIGURED = "not_configured"
    """No webhook is set: the customer was told how to reach support instead."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """An aware UTC datetime; a naive one is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Citation:
    """One source an answer cited, with the retrieval score it had."""

    id: str
    title: str
    url: str | None
    score: float
    kind: str | None = None
    """``faq`` or ``document`` where the caller knows it."""

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "url": self.url,
            "score": self.score,
            "kind": self.kind,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Citation:
        """From a stored row or from the pipeline's citation dicts (extra keys ignored)."""
        return cls(
            id=str(data.get("id", "")),
            title=str(data.get("title", "")),
            url=data.get("url"),
            score=float(data.get("score", 0.0)),
            kind=data.get("kind"),
        )


@dataclass(frozen=True, slots=True)
class NewTurn:
    """The provenance of one answer, as the pipeline submits it (masked question)."""

    message_id: str
    session_id: str
    question: str
    """The customer's message after PII masking; never the raw text."""
    answer: str
    answered_by: str
    citations: tuple[Citation, ...] = ()
    rails: dict[str, Any] = field(default_factory=dict)
    """The guardrails report of the turn (``GuardrailsReport.as_json()``)."""
    index_version: str | None = None
    prompt_version: str | None = None
    engine_dialect: str | None = None
    engine_model: str | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)
    created_at: datetime = field(default_factory=utcnow)
    query_vector: bytes | None = None
    """The question's embedding as ``chatbot.gaps.encode_vector`` packs it."""


@dataclass(frozen=True, slots=True)
class TurnRecordOut(NewTurn):
    """A stored turn, read back (``created_at`` always aware UTC)."""

    gap_answer: str | None = None
    """The admin FAQ entry that answered this turn's gap."""


@dataclass(frozen=True, slots=True)
class GapCandidate:
    """A turn that may belong to an FAQ gap, as the store reads it for clustering."""

    message_id: str
    question: str
    created_at: datetime
    answered_by: str
    rails: dict[str, Any]
    query_vector: bytes
    thumbs_down: bool
    handed_off: bool
    """The customer asked for a person right after this answer."""
    gap_answer: str | None


@dataclass(frozen=True, slots=True)
class FaqEntry:
    """An FAQ entry the admin wrote."""

    id: str
    question: str
    answer: str
    category: str | None
    gap_id: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class NewHandoff:
    """A handoff to a person as the pipeline creates it (masked transcript)."""

    id: str
    session_id: str
    message_id: str
    transcript: tuple[dict[str, str], ...]
    sources: tuple[dict[str, Any], ...]
    status: HandoffStatus
    about: str | None = None
    """The message id of the turn before the request: what the customer could not get."""
    created_at: datetime = field(default_factory=utcnow)


@dataclass(frozen=True, slots=True)
class HandoffOut:
    """A stored handoff, with its delivery's state."""

    id: str
    session_id: str
    message_id: str
    about: str | None
    created_at: datetime
    status: HandoffStatus
    attempts: int
    last_error: str | None
    delivered_at: datetime | None
    transcript: tuple[dict[str, Any], ...]
    sources: tuple[dict[str, Any], ...]


@dataclass(frozen=True, slots=True)
class FeedbackRecordOut:
    """A stored thumbs up or down on one answer."""

    id: int
    message_id: str
    session_id: str
    rating: Rating
    comment: str | None
    """Masked by the caller, like every text the store keeps."""
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Deleted:
    """Rows one erasure or purge removed."""

    turns: int = 0
    feedback: int = 0
    handoffs: int = 0

    @property
    def total(self) -> int:
        return self.turns + self.feedback + self.handoffs
