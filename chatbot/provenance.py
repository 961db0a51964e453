"""The provenance record of each answer, for the durable turn log (``chatbot.store``).

Built at the end of a turn from what the turn already holds (the masked question, the answer,
its citations with their scores, the rails' report, the timings) and what does not change
between turns (the prompt template's version, the engine); handed to a :class:`TurnSink`
that never waits for the database, so the log adds no I/O to the response path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from chatbot.gaps import encode_vector
from chatbot.store import Citation, NewTurn
from chatbot.turn import TurnResult
from ingest.embeddings import Vectors


class TurnSink(Protocol):
    """Where turns go: :class:`chatbot.store.TurnLog` (a bounded queue), or a test's list."""

    def submit(self, record: NewTurn) -> bool: ...


@dataclass(frozen=True)
class Provenance:
    """What produced every answer of this process, besides the index version."""

    prompt_version: str
    engine_dialect: str
    engine_model: str | None


def record(
    result: TurnResult,
    question: str,
    index_version: str | None,
    fixed: Provenance,
    vector: Vectors | None = None,
) -> NewTurn:
    """``question``: the customer's message as masked, the only form of it that is kept;
    ``vector``: its embedding, kept so FAQ gaps cluster without the model."""
    return NewTurn(
        message_id=result.message_id,
        session_id=result.session_id,
        question=question,
        answer=result.answer,
        answered_by=str(result.answered_by),
        citations=tuple(Citation.from_json(c) for c in result.citations),
        rails=result.guardrails,
        index_version=index_version,
        prompt_version=fixed.prompt_version,
        engine_dialect=fixed.engine_dialect,
        engine_model=fixed.engine_model,
        timings_ms=dict(result.timings_ms),
        query_vector=None if vector is None else encode_vector(vector),
    )
