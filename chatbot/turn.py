"""What one chat turn produces, and the texts that need no model: the typed result and events
of :class:`chatbot.pipeline.ChatPipeline`, the guardrails report, and the interfaces the
pipeline takes.

The report is one model for every outcome. Its first members are set on every turn; the last
ones only by the outcomes that use them (``unsupported`` by a retraction, ``handoff_offered``
by the replies that offer a human, ``suggested`` by the fallback), and it serialises only the
members a turn set, so the API, the session store and the widget read the same keys as before
the report was typed.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from chatbot.policy import AnsweredBy
from ingest.embeddings import Vectors
from ingest.models import Chunk
from ingest.search import Hit, SearchResult

if TYPE_CHECKING:
    # Only the interfaces name them: the API's schemas import this module without NeMo.
    from chatbot.guard import InputVerdict, OutputVerdict, Persona
    from chatbot.sessions import Turn
    from engines.sampling import GenerationParams, Step

__all__ = [
    "ABSTAIN",
    "AnsweredBy",
    "DoneEvent",
    "Event",
    "FaqRetriever",
    "GuardrailsReport",
    "Handoffs",
    "Outcome",
    "Rails",
    "RetractEvent",
    "TextGenerator",
    "TokenEvent",
    "TurnResult",
    "citation",
    "fallback",
    "faq_entry",
    "listed",
    "offer",
    "pii_notice",
]

ABSTAIN = (
    "I'm sorry, I couldn't find that in our FAQ, so I'd rather not guess. Would you like me to "
    "connect you with a member of our support team?"
)
_PII_WORDS = {
    "card": "card number",
    "iban": "IBAN",
    "email": "e-mail address",
    "national_id": "national ID number",
    "phone": "phone number",
    "account": "account number",
}


# What counts as blank in a message: every character Python's ``str.strip`` removes, ECMA
# regex's ``\s`` (JSON Schema) matches or Unicode's White_Space holds (pydantic's regex), so
# the API's schema, its validation and the pipeline agree on an empty message.
BLANKS = (
    "\t\n\v\f\r \x1c\x1d\x1e\x1f\x85\xa0\u1680"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000\ufeff"
)
NOT_BLANK = "[^" + "".join(f"\\u{ord(c):04x}" for c in BLANKS) + "]"
"""A pattern one character that is not blank matches, written so that ECMA, Rust and Python
regex engines read it alike."""


class Rails(Protocol):
    """What the pipeline calls on the guardrails (``chatbot.guard.Guardrails``)."""

    async def check_input(
        self, message: str, earlier: list[str], *, near_faq: bool, persona: Persona
    ) -> InputVerdict: ...

    async def check_output(self, user: str, answer: str, chunks: list[str]) -> OutputVerdict: ...


class QueryEmbedder(Protocol):
    def encode_query(self, text: str) -> Vectors: ...


class ServedIndex(Protocol):
    @property
    def derived(self) -> Mapping[str, Any]: ...


class FaqRetriever(Protocol):
    """What the pipeline needs from retrieval (``ingest.search.Retriever``)."""

    @property
    def embedder(self) -> QueryEmbedder: ...

    @property
    def index(self) -> ServedIndex: ...

    def search(self, query: str) -> SearchResult: ...


class TextGenerator(Protocol):
    """What the pipeline needs from the generation client (``TritonGenerator``)."""

    def stream(
        self, prompt: str | Sequence[dict[str, str]], params: GenerationParams | None = None
    ) -> AsyncGenerator[Step, None]: ...


class Handoffs(Protocol):
    """Who passes a conversation to a person (:class:`chatbot.desk.HandoffDesk`)."""

    async def hand_off(
        self, session_id: str, message_id: str, history: Sequence[Turn], message: str
    ) -> str:
        """Record the handoff and start it; the reply that says what was done."""
        ...


class GuardrailsReport(BaseModel):
    """What the rails decided in one turn (``guardrails`` of the answer and of a stored turn).

    Only the members a turn set are serialised: the outcome-specific ones after ``withheld``
    are absent from the JSON of the outcomes that do not set them, as clients expect."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    blocked: bool
    """The message was refused by the input rails, or the answer retracted by the output
    rails."""
    reason: str | None
    """The rail that refused the message, or ``output_<check>`` for a retracted answer."""
    detail: str | None
    """Why it was refused or withheld (a pattern's name, a probability)."""
    handoff: bool
    """The customer asked for a human."""
    pii_masked: list[str]
    """The kinds of personal data masked in the message (``card``, ``email``...)."""
    input_rails: list[str]
    near_faq: bool
    """Retrieval found the message close to the served FAQ, so it is on topic."""
    retrieval_dropped: list[str]
    """The chunks the retrieval rail kept from the prompt."""
    output_rails: list[str]
    retracted: bool
    """The streamed answer failed the output rails and was replaced."""
    withheld: str | None
    """The rail that kept the model from answering; the FAQ's own text answered instead."""
    unsupported: list[str] = Field(default_factory=list)
    """Set by a retraction: the answer's sentences the evidence does not support."""
    handoff_offered: bool = False
    """Set (true) by the replies that offer a human."""
    suggested: str | None = None
    """Set by a fallback: the FAQ entry it offers, or null when none was close enough."""

    @model_serializer(mode="wrap")
    def _members_set(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # A key the turn did not set must stay absent, not turn into its default.
        data: dict[str, Any] = handler(self)
        return {k: v for k, v in data.items() if k in self.model_fields_set}

    def as_json(self) -> dict[str, Any]:
        """The report as clients and the session store see it."""
        return self.model_dump(mode="json")

    def _with(self, **members: object) -> GuardrailsReport:
        return GuardrailsReport.model_validate(self.as_json() | members)

    def offering_handoff(self) -> GuardrailsReport:
        return self._with(handoff_offered=True)

    def suggesting(self, suggested: str | None) -> GuardrailsReport:
        """A fallback reply: it offers a human and, when one is close enough, an FAQ entry."""
        return self._with(handoff_offered=True, suggested=suggested)

    def checked(self, output_rails: list[str]) -> GuardrailsReport:
        return self._with(output_rails=output_rails)

    def retracting(
        self, reason: str, unsupported: list[str], suggested: str | None
    ) -> GuardrailsReport:
        """The output rails retracted the answer (``reason``: the check that failed)."""
        return self._with(
            retracted=True,
            blocked=True,
            reason=reason,
            unsupported=unsupported,
            handoff_offered=True,
            suggested=suggested,
        )


@dataclass(frozen=True)
class Outcome:
    """How a turn was answered, before the PII notice, the session and the timings are
    added: what each branch of the pipeline returns."""

    reply: str
    answered_by: AnsweredBy
    report: GuardrailsReport
    citations: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class TurnResult:
    session_id: str
    message_id: str
    answer: str
    answered_by: AnsweredBy
    citations: list[dict[str, Any]]
    report: GuardrailsReport
    timings_ms: dict[str, float]

    @functools.cached_property
    def guardrails(self) -> dict[str, Any]:
        """The report as the API shows it (the keys this turn set); serialised once, for the
        session, the answer and the turn log alike (read-only)."""
        return self.report.as_json()

    def to_json(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "message_id": self.message_id,
            "answer": self.answer,
            "answered_by": self.answered_by,
            "citations": self.citations,
            "guardrails": self.guardrails,
            "timings_ms": self.timings_ms,
        }


@dataclass(frozen=True)
class TokenEvent:
    text: str


@dataclass(frozen=True)
class RetractEvent:
    """The streamed answer failed the output rails; ``text`` replaces it."""

    text: str
    reason: str


@dataclass(frozen=True)
class DoneEvent:
    result: TurnResult


Event = TokenEvent | RetractEvent | DoneEvent


def listed(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def pii_notice(kinds: Sequence[str]) -> str:
    """Tells the customer what was masked, so they know it was not kept."""
    named = listed([_PII_WORDS.get(k, k) for k in kinds])
    return (
        f"(For your security I removed the {named} from your message; please don't share "
        "personal details in this chat.)\n\n"
    )


def fallback(citations: Sequence[dict[str, Any]], suggestion: Chunk | None = None) -> str:
    """What replaces an answer that failed the output rails: the FAQ entry closest to the
    question, word for word, when one is close enough to offer; links to the other FAQ entries
    found; and a human."""
    offered = ""
    if suggestion is not None:
        link = f"\n\n[{suggestion.title}]({suggestion.url})" if suggestion.url else ""
        offered = (
            " This FAQ entry looks closest to your question:\n\n"
            f"**{suggestion.title}**\n\n{suggestion.answer}{link}"
        )
        citations = [c for c in citations if c["id"] != suggestion.id]
    links = [
        f"- [{c['title']}]({c['url']})" if c.get("url") else f"- {c['title']}" for c in citations
    ]
    heading = "Other FAQ entries that may help" if suggestion else "These FAQ entries may help"
    pages = f"\n\n{heading}:\n" + "\n".join(links) if links else ""
    ask = "If that doesn't answer it, would" if suggestion else "Would"
    return (
        "Sorry, I can't give you a reliable answer to that in my own words."
        + offered
        + pages
        + f"\n\n{ask} you like me to connect you with a member of our support team?"
    )


def faq_entry(entry: Chunk, others: Sequence[dict[str, Any]]) -> str:
    """The ``faq_entry`` reply: the entry's answer as written under its question, the other
    entries found as links. Nothing in it is generated."""
    link = f"\n\n[More on this]({entry.url})" if entry.url else ""
    links = [f"- [{c['title']}]({c['url']})" if c.get("url") else f"- {c['title']}" for c in others]
    pages = "\n\nRelated FAQ entries:\n" + "\n".join(links) if links else ""
    return (
        "This FAQ entry looks like what you need:\n\n"
        f"**{entry.title}**\n\n{entry.answer}{link}{pages}\n\n"
        "If it doesn't answer your question, I can connect you with a member of our support team."
    )


def citation(hit: Hit) -> dict[str, Any]:
    chunk = hit.chunk
    return {
        "id": chunk.id,
        "title": chunk.title,
        "source": chunk.source,
        "url": chunk.url,
        "score": round(hit.score, 4),
        "kind": chunk.kind,
    }


def offer(
    citations: list[dict[str, Any]], suggestion: Hit | None
) -> tuple[list[dict[str, Any]], Chunk | None]:
    """The citations of a :func:`fallback` reply, the entry it offers (if any) cited first."""
    if suggestion is None:
        return citations, None
    offered = suggestion.chunk
    return [citation(suggestion), *(c for c in citations if c["id"] != offered.id)], offered
