"""The evidence-graded answer policy, from retrieval scores alone."""

from __future__ import annotations

from chatbot.policy import AnsweredBy, Thresholds, closest_entry, decide
from ingest.models import Chunk
from ingest.search import Hit

T = Thresholds(curated=0.9, entry=0.7, answer=0.45)


def _hit(name: str, dense: float, title: float, *, faq: bool = True) -> Hit:
    chunk = Chunk(
        id=name,
        source="faq.csv",
        title=f"{name}?",
        text=f"{name}? answer",
        hash=name,
        kind="faq" if faq else "passage",
        answer="answer" if faq else None,
    )
    score = max(dense, title)
    return Hit(chunk, score, dense, 0.0, "v", title_score=title)


def test_an_faq_question_that_says_the_same_is_answered_as_written() -> None:
    # The entry whose question matches is curated even when another hit ranks first.
    same = _hit("same", 0.6, 0.95)
    decision = decide([_hit("other", 0.8, 0.5), same], T)
    assert decision.outcome is AnsweredBy.CURATED and decision.entry is same


def test_a_close_faq_entry_is_shown_as_written() -> None:
    top = _hit("top", 0.5, 0.75)
    decision = decide([top, _hit("next", 0.5, 0.6)], T)
    assert decision.outcome is AnsweredBy.FAQ_ENTRY and decision.entry is top


def test_evidence_that_no_entry_answers_goes_to_the_model() -> None:
    # Relevant, but the best hit is a passage (or an entry not close enough).
    assert decide([_hit("guide", 0.8, 0.3, faq=False)], T).outcome is AnsweredBy.MODEL
    assert decide([_hit("entry", 0.5, 0.6)], T).outcome is AnsweredBy.MODEL


def test_nothing_relevant_abstains() -> None:
    assert decide([], T).outcome is AnsweredBy.ABSTAIN
    assert decide([_hit("far", 0.4, 0.44)], T).outcome is AnsweredBy.ABSTAIN


def test_the_closest_entry_is_the_best_ranked_one_when_close_enough() -> None:
    guide, near = _hit("guide", 0.9, 0.2, faq=False), _hit("near", 0.5, 0.6)
    assert closest_entry([guide, near, _hit("lower", 0.7, 0.7)], 0.55) is near
    assert closest_entry([_hit("far", 0.3, 0.4), near], 0.55) is None
