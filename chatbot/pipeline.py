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
``chatbot_stage_seconds`` histogram), and so is each outcome: it returns a
:class:`chatbot.turn.Outcome` (reply, ``answered_by``, citations, guardrails report).
:meth:`ChatPipeline.stream` picks the outcome and yields events as they happen (tokens, a
retraction, the final result); :meth:`ChatPipeline.run` collects them. The model is
called at most once per turn, and only when the policy says the evidence must be combined or
rephrased. The turn is saved only once it is complete, so a failed or abandoned turn leaves the
session as it was; a message the input rails refuse is not saved at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
import uuid
from collections.abc import AsyncGenerator, Iterator
from dataclasses import dataclass, field

from chatbot import metrics, policy, prompt, provenance
from chatbot.errors import InvalidRequestError
from chatbot.followup import standalone_query
from chatbot.guard import InputVerdict, OutputVerdict, Persona
from chatbot.policy import AnsweredBy
from chatbot.provenance import Provenance, TurnSink
from chatbot.sessions import SessionStore, Turn, check_session_id, new_session_id
from chatbot.settings import Settings
from chatbot.turn import (
    ABSTAIN,
    BLANKS,
    DoneEvent,
    Event,
    FaqRetriever,
    GuardrailsReport,
    Handoffs,
    Outcome,
    Rails,
    RetractEvent,
    TextGenerator,
    TokenEvent,
    TurnResult,
    citation,
    fallback,
    faq_entry,
    listed,
    offer,
    pii_notice,
)
from engines.sampling import GenerationParams
from ingest.embeddings import Vectors
from ingest.errors import IngestError
from ingest.models import Chunk
from ingest.search import Hit
from rails import retrieval as retrieval_rail
from rails.pii import mask


@functools.lru_cache(maxsize=4096)
def _screen(text: str) -> str | None:
    return retrieval_rail.screen(text)


def _screened(chunk: Chunk) -> str | None:
    """The ingest's flag, or the rail's verdict for chunks of an index made before it."""
    return chunk.flagged or _screen(chunk.text)


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


@dataclass(frozen=True)
class _Turn:
    """What the stages before the answer found out; each outcome's method reads it."""

    session_id: str
    message_id: str
    text: str
    """The message, PII masked."""
    vector: Vectors
    """The message's embedding (the turn log keeps it for the FAQ gaps)."""
    notice: str
    """The PII notice that opens the answer ("" when nothing was masked)."""
    history: list[Turn]
    hits: list[Hit]
    """Retrieval's ranking, less what the retrieval rail dropped."""
    index_version: str
    """The index version retrieval searched (the turn log records it)."""
    verdict: InputVerdict
    report: GuardrailsReport
    """The input side of the report; the outcome adds its own members."""
    timer: _Timer


class ChatPipeline:
    def __init__(
        self,
        *,
        settings: Settings,
        sessions: SessionStore,
        guard: Rails,
        retriever: FaqRetriever,
        generator: TextGenerator,
        turn_log: TurnSink | None = None,
        provenance: Provenance | None = None,
        handoffs: Handoffs | None = None,
    ) -> None:
        """``turn_log``: where each turn's provenance record goes (none: not logged);
        ``handoffs``: who passes a conversation to a person (none: the rails' reply)."""
        self.settings = settings
        self.sessions = sessions
        self.guard = guard
        self.retriever = retriever
        self.generator = generator
        self.turn_log = turn_log
        self.handoffs = handoffs
        self.provenance = provenance or Provenance(prompt.VERSION, settings.triton_dialect, None)

    def check_message(self, message: str) -> str:
        # The raw length counts, as the API schema says (maxLength of the message).
        text = message.strip(BLANKS)
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
        turn = await self._prepare(message, session_id)
        if turn.notice:
            yield TokenEvent(turn.notice)
        if turn.verdict.handoff and self.handoffs is not None:
            outcome: Outcome | None = await self._handed_off(turn, self.handoffs)
        else:
            outcome = self._without_model(turn)
        if outcome is not None:
            yield TokenEvent(outcome.reply)
        else:
            async with contextlib.aclosing(self._generated(turn, max_tokens)) as items:
                async for item in items:
                    if isinstance(item, Outcome):
                        outcome = item
                    else:
                        yield item
        assert outcome is not None, "the model's branch always ends with its outcome"
        yield DoneEvent(await self._finish(turn, outcome))

    async def _prepare(self, message: str, session_id: str | None) -> _Turn:
        """Everything before the answer: masking, history, retrieval, the input rails."""
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
            vector = await asyncio.to_thread(self.retriever.embedder.encode_query, text)
        # Retrieval comes before the input rails: what the served FAQ covers is on topic.
        hits, index_version = await self._retrieve(text, history, timer)
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
        report = GuardrailsReport(
            blocked=verdict.blocked is not None,
            reason=verdict.blocked,
            detail=verdict.detail,
            handoff=verdict.handoff,
            pii_masked=list(masked.kinds),
            input_rails=verdict.rails,
            near_faq=near_faq,
            retrieval_dropped=[h.chunk.id for h in dropped],
            output_rails=[],
            retracted=False,
            withheld=verdict.withhold,
        )
        notice = pii_notice(masked.kinds) if masked.kinds else ""
        return _Turn(
            session_id,
            uuid.uuid4().hex,
            text,
            vector,
            notice,
            history,
            hits,
            index_version,
            verdict,
            report,
            timer,
        )

    def _without_model(self, turn: _Turn) -> Outcome | None:
        """The outcome when no model call is needed; None when the model answers."""
        if turn.verdict.reply is not None:
            return self._rails_reply(turn)
        decision = policy.decide(turn.hits, self._thresholds())
        if decision.outcome is AnsweredBy.ABSTAIN:
            return self._abstained(turn)
        if decision.outcome is AnsweredBy.CURATED:
            assert decision.entry is not None
            return self._curated(turn, decision.entry)
        if decision.outcome is AnsweredBy.FAQ_ENTRY:
            assert decision.entry is not None
            return self._faq_entry(turn, decision.entry)
        if decision.outcome is AnsweredBy.MODEL and not turn.verdict.withhold:
            return None
        return self._withheld(turn)

    def _rails_reply(self, turn: _Turn) -> Outcome:
        """A dialog flow's canned reply, or the input rails' refusal."""
        assert turn.verdict.reply is not None
        return Outcome(turn.verdict.reply, AnsweredBy.RAILS, turn.report)

    async def _handed_off(self, turn: _Turn, handoffs: Handoffs) -> Outcome:
        """The customer asked for a person: a handoff record, and a reply that promises only
        what was done."""
        with turn.timer.stage("handoff"):
            reply = await handoffs.hand_off(
                turn.session_id, turn.message_id, turn.history, turn.text
            )
        return Outcome(reply, AnsweredBy.RAILS, turn.report)

    def _abstained(self, turn: _Turn) -> Outcome:
        """Nothing relevant found: say so, offer a human."""
        return Outcome(ABSTAIN, AnsweredBy.ABSTAIN, turn.report.offering_handoff())

    def _curated(self, turn: _Turn, entry: Hit) -> Outcome:
        """An FAQ question says the same as the customer's: its answer as written."""
        reply = entry.chunk.answer or entry.chunk.text
        return Outcome(reply, AnsweredBy.CURATED, turn.report, [citation(entry)])

    def _faq_entry(self, turn: _Turn, entry: Hit) -> Outcome:
        """The top hit is an FAQ entry: its answer under its question, the others as links."""
        citations, _ = offer([citation(h) for h in turn.hits], entry)
        reply = faq_entry(entry.chunk, citations[1:])
        return Outcome(reply, AnsweredBy.FAQ_ENTRY, turn.report.offering_handoff(), citations)

    def _withheld(self, turn: _Turn) -> Outcome:
        """The input rails keep the model from this message: the FAQ's own text instead."""
        citations, offered = offer([citation(h) for h in turn.hits], self._suggestion(turn))
        report = turn.report.suggesting(offered.id if offered else None)
        return Outcome(fallback(citations, offered), AnsweredBy.FALLBACK, report, citations)

    async def _generated(
        self, turn: _Turn, max_tokens: int | None
    ) -> AsyncGenerator[TokenEvent | RetractEvent | Outcome, None]:
        """A grounded generation, streamed, then checked by the output rails: its tokens, a
        retraction if it fails, and last its outcome."""
        parts: list[str] = []
        async with contextlib.aclosing(self._tokens(turn, max_tokens)) as deltas:
            async for delta in deltas:
                parts.append(delta)
                yield TokenEvent(delta)
        answer = "".join(parts).strip()
        with turn.timer.stage("output_rails"):
            checked = await self.guard.check_output(
                turn.text, answer, [h.chunk.text for h in turn.hits]
            )
        if checked.blocked:
            retracted = self._retracted(turn, checked)
            assert retracted.report.reason is not None
            yield RetractEvent(turn.notice + retracted.reply, retracted.report.reason)
            yield retracted
            return
        # A model answer cites the chunks that support its sentences.
        hits = turn.hits
        citations = [citation(hits[i]) for i in checked.support if i < len(hits)]
        yield Outcome(answer, AnsweredBy.MODEL, turn.report.checked(checked.rails), citations)

    def _retracted(self, turn: _Turn, checked: OutputVerdict) -> Outcome:
        """The answer failed the output rails: the closest FAQ entry and links replace it."""
        citations, offered = offer([citation(h) for h in turn.hits], self._suggestion(turn))
        report = turn.report.checked(checked.rails).retracting(
            f"output_{checked.reason}", checked.unsupported, offered.id if offered else None
        )
        return Outcome(fallback(citations, offered), AnsweredBy.FALLBACK, report, citations)

    def _suggestion(self, turn: _Turn) -> Hit | None:
        return policy.closest_entry(turn.hits, self.settings.suggest_threshold)

    async def _finish(self, turn: _Turn, outcome: Outcome) -> TurnResult:
        """Save the turn (unless refused) and time it: the turn's result."""
        answer = turn.notice + outcome.reply
        timings: dict[str, float] = {}
        result = TurnResult(
            session_id=turn.session_id,
            message_id=turn.message_id,
            answer=answer,
            answered_by=outcome.answered_by,
            citations=outcome.citations,
            report=outcome.report,
            timings_ms=timings,
        )
        stored = Turn(
            message_id=turn.message_id,
            user=turn.text,
            assistant=answer,
            citations=outcome.citations,
            guardrails=result.guardrails,
            answered_by=outcome.answered_by,
        )
        if turn.verdict.blocked is None:
            # A refused message is not kept: it must never become context for later turns.
            with turn.timer.stage("save"):
                await self.sessions.append(turn.session_id, stored)
        timings.update(turn.timer.finish())
        metrics.TURNS.labels(outcome.answered_by).inc()
        if self.turn_log is not None:
            record = provenance.record(
                result, turn.text, turn.index_version, self.provenance, turn.vector
            )
            self.turn_log.submit(record)
        return result

    def _persona(self) -> Persona:
        """The deployment's name and scope; the scope defaults to the served FAQ's topics."""
        scope = self.settings.bot_scope
        if not scope:
            try:
                topics = list(self.retriever.index.derived.get("topics", []))
            except IngestError:
                topics = []
            scope = listed([t.lower() for t in topics]) if topics else ""
        return Persona(name=self.settings.bot_name, scope=scope)

    def _thresholds(self) -> policy.Thresholds:
        return policy.Thresholds(
            curated=self.settings.curated_threshold,
            entry=self.settings.entry_threshold,
            answer=self.settings.answer_threshold,
        )

    async def _retrieve(
        self, text: str, history: list[Turn], timer: _Timer
    ) -> tuple[list[Hit], str]:
        with timer.stage("rewrite"):
            earlier = [t.user for t in history if t.answered_by in policy.GROUNDED]
            query = standalone_query(text, earlier)
        with timer.stage("retrieval"):
            result = await asyncio.to_thread(self.retriever.search, query)
        return result.hits[: self.settings.context_chunks], result.index_version

    async def _tokens(self, turn: _Turn, max_tokens: int | None) -> AsyncGenerator[str, None]:
        keep = self.settings.prompt_history_turns
        earlier = [(t.user, t.assistant) for t in turn.history if t.answered_by == "model"]
        messages = prompt.messages(
            turn.text, turn.hits, earlier[-keep:] if keep else [], self.settings.bot_name
        )
        cap = self.settings.max_tokens
        params = GenerationParams(
            max_tokens=min(max_tokens or cap, cap),
            temperature=self.settings.temperature,
            stop=tuple(self.settings.stop),
        )
        metrics.LLM_CALLS.inc()
        timer, start, first = turn.timer, time.perf_counter(), True
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
