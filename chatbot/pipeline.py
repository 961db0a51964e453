"""One chat turn, stage by stage.

    mask PII -> history -> rewrite -> retrieval -> input rails -> (canned reply | retrieval
            rail -> answer policy: curated | faq_entry | abstain | grounded generation ->
            output rails) -> save

Retrieval runs before the input rails: a message close to the served FAQ
(``on_topic_threshold``) is on topic whatever the rails' examples say, and an injection
classifier's doubt about it keeps it from the model instead of refusing it. The answer policy
(:mod:`chatbot.policy`) grades the evidence. An answer the output rails retract is replaced by
the closest FAQ entry, word for word, when it is close enough (``suggest_threshold``), else by
links to the FAQ entries found; both offer a human. A message the input rails let through but
withhold from the model (``guardrails.withheld``) gets the same reply without a model call,
unless the FAQ's own text answers it (curated, faq_entry).

Each stage is a small method timed under its own name (``timings_ms`` of the answer and the
``chatbot_stage_seconds`` histogram). :meth:`ChatPipeline.stream` yields events as they happen
(tokens, a retraction, the final result); :meth:`ChatPipeline.run` collects them. The model is
called at most once per turn, and only when the policy says the evidence must be combined or
rephrased. The turn is saved only once it is complete, so a failed or abandoned turn leaves the
session as it was; a message the input rails refuse is not saved at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import AsyncGenerator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from chatbot import metrics, policy, prompt
from chatbot.errors import InvalidRequestError
from chatbot.followup import standalone_query
from chatbot.guard import Guardrails, Persona
from chatbot.policy import AnsweredBy
from chatbot.sessions import SessionStore, Turn, check_session_id, new_session_id
from chatbot.settings import Settings
from engines.sampling import GenerationParams, Step
from ingest.errors import IngestError
from ingest.models import Chunk
from ingest.search import Hit, Retriever
from rails import retrieval as retrieval_rail
from rails.pii import mask

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


def _listed(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def pii_notice(kinds: Sequence[str]) -> str:
    """Tells the customer what was masked, so they know it was not kept."""
    listed = _listed([_PII_WORDS.get(k, k) for k in kinds])
    return (
        f"(For your security I removed the {listed} from your message; please don't share "
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


@functools.lru_cache(maxsize=4096)
def _screen(text: str) -> str | None:
    return retrieval_rail.screen(text)


def _screened(chunk: Chunk) -> str | None:
    """The ingest's flag, or the rail's verdict for chunks of an index made before it."""
    return chunk.flagged or _screen(chunk.text)


class TextGenerator(Protocol):
    """What the pipeline needs from the generation client (``TritonGenerator``)."""

    def stream(
        self, prompt: str | Sequence[dict[str, str]], params: GenerationParams | None = None
    ) -> AsyncGenerator[Step, None]: ...


@dataclass(frozen=True)
class TurnResult:
    session_id: str
    message_id: str
    answer: str
    answered_by: AnsweredBy
    citations: list[dict[str, Any]]
    guardrails: dict[str, Any]
    timings_ms: dict[str, float]

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


@dataclass
class _Timer:
    started: float = field(default_factory=time.perf_counter)
    ms: dict[str, float] = field(default_factory=dict)

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            seconds = time.perf_counter() - start
            self.ms[name] = round(seconds * 1000, 2)
            metrics.STAGE_SECONDS.labels(name).observe(seconds)

    def finish(self) -> dict[str, float]:
        total = time.perf_counter() - self.started
        self.ms["total"] = round(total * 1000, 2)
        self.ms["overhead"] = round(self.ms["total"] - self.ms.get("generation", 0.0), 2)
        metrics.STAGE_SECONDS.labels("total").observe(total)
        metrics.STAGE_SECONDS.labels("overhead").observe(self.ms["overhead"] / 1000)
        return self.ms


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


def _offer(
    citations: list[dict[str, Any]], suggestion: Hit | None
) -> tuple[list[dict[str, Any]], Chunk | None]:
    """The citations of a :func:`fallback` reply, the entry it offers (if any) cited first."""
    if suggestion is None:
        return citations, None
    offered = suggestion.chunk
    return [citation(suggestion), *(c for c in citations if c["id"] != offered.id)], offered


class ChatPipeline:
    def __init__(
        self,
        *,
        settings: Settings,
        sessions: SessionStore,
        guard: Guardrails,
        retriever: Retriever,
        generator: TextGenerator,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.guard = guard
        self.retriever = retriever
        self.generator = generator

    def check_message(self, message: str) -> str:
        # The raw length counts, as the API schema says (maxLength of the message).
        text = message.strip()
        if not text:
            raise InvalidRequestError("the message is empty")
        if len(message) > self.settings.max_message_chars:
            raise InvalidRequestError(
                f"the message is longer than {self.settings.max_message_chars} characters"
            )
        return text

    async def run(
        self, message: str, session_id: str | None = None, *, max_tokens: int | None = None
    ) -> TurnResult:
        async with contextlib.aclosing(
            self.stream(message, session_id, max_tokens=max_tokens)
        ) as events:
            async for event in events:
                if isinstance(event, DoneEvent):
                    return event.result
        raise AssertionError("a turn always ends with DoneEvent")  # pragma: no cover

    async def stream(
        self, message: str, session_id: str | None = None, *, max_tokens: int | None = None
    ) -> AsyncGenerator[Event, None]:
        # PII is masked before anything else sees the message: rails, logs, retrieval, the
        # model and the session store only ever get the masked text.
        masked = mask(self.check_message(message))
        text = masked.text
        session_id = check_session_id(session_id) if session_id else new_session_id()
        timer = _Timer()
        with timer.stage("history"):
            history = await self.sessions.history(session_id, self.settings.history_turns)
        # Only answered turns are stored; a retracted answer's question still counts.
        earlier = [t.user for t in history]
        with timer.stage("embed"):
            # Once, in a worker thread: the injection classifier, intent matching and
            # retrieval all read this vector, so the rails need not run the model on the loop.
            await asyncio.to_thread(self.retriever.embedder.encode_query, text)
        # Retrieval comes before the input rails: what the served FAQ covers is on topic.
        hits = await self._retrieve(text, history, timer)
        # The retrieval rail: chunks that speak to the assistant never reach a prompt, nor
        # make a message on topic.
        dropped = [h for h in hits if _screened(h.chunk)]
        hits = [h for h in hits if h not in dropped]
        near_faq = bool(hits) and hits[0].relevance >= self.settings.on_topic_threshold
        with timer.stage("input_rails"):
            verdict = await self.guard.check_input(
                text,
                earlier[-self.settings.conversation_turns :],
                near_faq=near_faq,
                persona=self._persona(),
            )
        guardrails: dict[str, Any] = {
            "blocked": verdict.blocked is not None,
            "reason": verdict.blocked,
            "detail": verdict.detail,
            "handoff": verdict.handoff,
            "pii_masked": list(masked.kinds),
            "input_rails": verdict.rails,
            "near_faq": near_faq,
            "retrieval_dropped": [h.chunk.id for h in dropped],
            "output_rails": [],
            "retracted": False,
            "withheld": verdict.withhold,
        }
        citations: list[dict[str, Any]] = []
        notice = pii_notice(masked.kinds) if masked.kinds else ""
        if notice:
            yield TokenEvent(notice)
        if verdict.reply is not None:
            answer, answered_by = notice + verdict.reply, AnsweredBy.RAILS
            yield TokenEvent(verdict.reply)
        else:
            decision = policy.decide(hits, self._thresholds())
            answered_by = decision.outcome
            suggestion = policy.closest_entry(hits, self.settings.suggest_threshold)
            if answered_by is AnsweredBy.MODEL and verdict.withhold:
                answered_by = AnsweredBy.FALLBACK
            if answered_by is AnsweredBy.ABSTAIN:
                reply = ABSTAIN
                guardrails["handoff_offered"] = True
            elif answered_by is AnsweredBy.CURATED:
                assert decision.entry is not None
                reply = decision.entry.chunk.answer or decision.entry.chunk.text
                citations = [citation(decision.entry)]
            elif answered_by is AnsweredBy.FAQ_ENTRY:
                assert decision.entry is not None
                citations, _ = _offer([citation(h) for h in hits], decision.entry)
                reply = faq_entry(decision.entry.chunk, citations[1:])
                guardrails["handoff_offered"] = True
            elif answered_by is AnsweredBy.FALLBACK:
                citations, offered = _offer([citation(h) for h in hits], suggestion)
                reply = fallback(citations, offered)
                guardrails.update(handoff_offered=True, suggested=offered.id if offered else None)
            if answered_by is not AnsweredBy.MODEL:
                yield TokenEvent(reply)
                answer = notice + reply
            else:
                parts: list[str] = []
                async for delta in self._generate(text, hits, history, max_tokens, timer):
                    parts.append(delta)
                    yield TokenEvent(delta)
                answer = "".join(parts).strip()
                with timer.stage("output_rails"):
                    checked = await self.guard.check_output(
                        text, answer, [h.chunk.text for h in hits]
                    )
                guardrails["output_rails"] = checked.rails
                if checked.blocked:
                    answered_by = AnsweredBy.FALLBACK
                    citations, offered = _offer([citation(h) for h in hits], suggestion)
                    answer = fallback(citations, offered)
                    guardrails.update(
                        retracted=True,
                        blocked=True,
                        reason=f"output_{checked.reason}",
                        unsupported=checked.unsupported,
                        handoff_offered=True,
                        suggested=offered.id if offered else None,
                    )
                    yield RetractEvent(notice + answer, f"output_{checked.reason}")
                else:
                    # A model answer cites the chunks that support its sentences.
                    citations = [citation(hits[i]) for i in checked.support if i < len(hits)]
                answer = notice + answer
        turn = Turn(
            user=text,
            assistant=answer,
            citations=citations,
            guardrails=guardrails,
            answered_by=answered_by,
        )
        if verdict.blocked is None:
            # A refused message is not kept: it must never become context for later turns.
            with timer.stage("save"):
                await self.sessions.append(session_id, turn)
        timings = timer.finish()
        metrics.TURNS.labels(answered_by).inc()
        yield DoneEvent(
            TurnResult(
                session_id=session_id,
                message_id=turn.message_id,
                answer=answer,
                answered_by=answered_by,
                citations=citations,
                guardrails=guardrails,
                timings_ms=timings,
            )
        )

    def _persona(self) -> Persona:
        """The deployment's name and scope; the scope defaults to the served FAQ's topics."""
        scope = self.settings.bot_scope
        if not scope:
            try:
                topics = list(self.retriever.index.derived.get("topics", []))
            except IngestError:
                topics = []
            scope = _listed([t.lower() for t in topics]) if topics else ""
        return Persona(name=self.settings.bot_name, scope=scope)

    def _thresholds(self) -> policy.Thresholds:
        return policy.Thresholds(
            curated=self.settings.curated_threshold,
            entry=self.settings.entry_threshold,
            answer=self.settings.answer_threshold,
        )

    async def _retrieve(self, text: str, history: list[Turn], timer: _Timer) -> list[Hit]:
        with timer.stage("rewrite"):
            earlier = [t.user for t in history if t.answered_by in policy.GROUNDED]
            query = standalone_query(text, earlier)
        with timer.stage("retrieval"):
            result = await asyncio.to_thread(self.retriever.search, query)
        return result.hits[: self.settings.context_chunks]

    async def _generate(
        self,
        question: str,
        hits: list[Hit],
        history: list[Turn],
        max_tokens: int | None,
        timer: _Timer,
    ) -> AsyncGenerator[str, None]:
        keep = self.settings.prompt_history_turns
        earlier = [(t.user, t.assistant) for t in history if t.answered_by == "model"]
        messages = prompt.messages(
            question, hits, earlier[-keep:] if keep else [], self.settings.bot_name
        )
        cap = self.settings.max_tokens
        params = GenerationParams(
            max_tokens=min(max_tokens or cap, cap),
            temperature=self.settings.temperature,
            stop=tuple(self.settings.stop),
        )
        metrics.LLM_CALLS.inc()
        start = time.perf_counter()
        first = True
        with timer.stage("generation"):
            try:
                async with contextlib.aclosing(self.generator.stream(messages, params)) as steps:
                    async for step in steps:
                        if step.text:
                            if first:
                                first = False
                                timer.ms["ttft"] = round((time.perf_counter() - start) * 1000, 2)
                            yield step.text
            except (GeneratorExit, asyncio.CancelledError):
                # The caller went away (client disconnect): leaving the block above cancels
                # the Triton stream, and nothing of the turn is saved.
                metrics.ABANDONED.inc()
                raise
