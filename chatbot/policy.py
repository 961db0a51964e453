"""The evidence-graded answer policy: one outcome per turn, chosen from retrieval's scores.

    curated    an FAQ question says the same as the customer's (title cosine >= ``curated``):
               that FAQ answer, as written
    faq_entry  the best-ranked hit is an FAQ entry close enough to be what the customer needs
               (relevance >= ``entry``): its answer as written under its question as a
               heading, the next entries as links; no generated claim
    model      relevant evidence that no single entry answers (relevance >= ``answer``): a
               grounded generation, shown only if every sentence passes the claim check
    abstain    nothing relevant: say so and offer a human

``rails`` (a canned dialog reply or a refusal) and ``fallback`` (the FAQ's text in place of a
retracted or withheld model answer) are decided by the rails, not here. The thresholds are
settings, calibrated on the development splits of external FAQ corpora by
``bench/answers.py --calibrate``; that benchmark prints each outcome's precision and coverage.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from ingest.search import Hit


class AnsweredBy(StrEnum):
    RAILS = "rails"
    CURATED = "curated"
    FAQ_ENTRY = "faq_entry"
    MODEL = "model"
    ABSTAIN = "abstain"
    FALLBACK = "fallback"


GROUNDED = frozenset({AnsweredBy.CURATED, AnsweredBy.FAQ_ENTRY, AnsweredBy.MODEL})
"""Outcomes whose answer came from the FAQ's evidence (context for later turns)."""


@dataclass(frozen=True)
class Thresholds:
    curated: float
    entry: float
    answer: float


@dataclass(frozen=True)
class Decision:
    outcome: AnsweredBy
    entry: Hit | None = None
    """The FAQ entry shown (``curated``, ``faq_entry``)."""


def is_entry(hit: Hit) -> bool:
    return hit.chunk.kind == "faq" and bool(hit.chunk.answer)


def decide(hits: Sequence[Hit], thresholds: Thresholds) -> Decision:
    """``hits``: retrieval's ranking, the retrieval rail's drops already removed."""
    entries = [h for h in hits if is_entry(h)]
    same = max(entries, key=lambda h: h.title_score, default=None)
    if same is not None and same.title_score >= thresholds.curated:
        return Decision(AnsweredBy.CURATED, same)
    if not hits or hits[0].relevance < thresholds.answer:
        return Decision(AnsweredBy.ABSTAIN)
    top = hits[0]
    if is_entry(top) and top.relevance >= thresholds.entry:
        return Decision(AnsweredBy.FAQ_ENTRY, top)
    return Decision(AnsweredBy.MODEL)


def closest_entry(hits: Sequence[Hit], threshold: float) -> Hit | None:
    """The best-ranked FAQ entry when it is close enough to offer in place of a model answer
    the output rails retract or the input rails withhold."""
    entries = [h for h in hits if is_entry(h)]
    return entries[0] if entries and entries[0].relevance >= threshold else None
