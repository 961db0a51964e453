"""The workloads of ``bench/chat.py``: sessions of turns at a concurrency level, and the first
token at the client paired with the engine's own time to first token for the same prompt."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from bench.chat_client import BenchError, ChatClient, TurnFailed, TurnSample
from chatbot import prompt
from chatbot.generation.client import TritonGenerator
from engines.sampling import GenerationParams
from ingest.models import Chunk
from ingest.search import Hit

PRE_GENERATION = ("history", "embed", "input_rails", "rewrite", "retrieval", "curated")
"""The server's stages before generation, in ``timings_ms``."""


@dataclass
class Level:
    """The turns of one concurrency level, and those that failed (by message)."""

    concurrency: int
    samples: list[TurnSample] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    wall_s: float = 0.0

    def of(self, answered_by: str) -> list[TurnSample]:
        return [s for s in self.samples if s.answered_by == answered_by]


async def run_sessions(
    concurrency: int,
    sessions: Sequence[Sequence[str]],
    ask: Callable[[str, str | None], Awaitable[TurnSample]],
) -> Level:
    """``sessions`` (each a list of messages, asked in order in one session) through
    ``concurrency`` workers: at most that many sessions are active at any time."""
    level = Level(concurrency)
    pending = list(reversed(sessions))

    async def worker() -> None:
        while pending:
            session_id: str | None = None
            for message in pending.pop():
                try:
                    sample = await ask(message, session_id)
                except TurnFailed as exc:  # the session stays as it was; go on with it
                    level.errors[str(exc)] += 1
                    continue
                session_id = sample.result["session_id"]
                level.samples.append(sample)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    level.wall_s = time.perf_counter() - start
    return level


def plan(questions: Sequence[str], count: int, turns: int, offset: int) -> list[list[str]]:
    """``count`` sessions of ``turns`` messages, cycling through ``questions``."""
    n = len(questions)
    return [[questions[(offset + s * turns + t) % n] for t in range(turns)] for s in range(count)]


@dataclass
class FirstToken:
    client_ms: list[float] = field(default_factory=list)
    engine_ms: list[float] = field(default_factory=list)
    server_ttft_ms: list[float] = field(default_factory=list)
    pre_generation_ms: list[float] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class Prompt:
    """What the pipeline sent to the model for one question in a fresh session."""

    messages: list[dict[str, str]]
    citation_ids: list[str]


async def engine_ttft(
    generator: TritonGenerator, messages: list[dict[str, str]], params: GenerationParams
) -> float | None:
    """Time to the first text delta, streaming straight to Triton as the pipeline does (chat
    messages rendered by the client, then the gRPC stream), read to the end."""
    first: float | None = None
    start = time.perf_counter()
    async with contextlib.aclosing(generator.stream(messages, params)) as steps:
        async for step in steps:
            if step.text and first is None:
                first = (time.perf_counter() - start) * 1000
    return first


async def pipeline_prompt(
    client: ChatClient, chunks: dict[str, Chunk], sample: TurnSample
) -> Prompt:
    """The prompt of a model turn in a fresh session: the turn's citations are its excerpts,
    in order, and the stored user text is the question as the pipeline saw it (PII masked)."""
    ids = [c["id"] for c in sample.result["citations"]]
    if any(i not in chunks for i in ids):
        raise BenchError("the API cites chunks the local index does not hold: --index-dir?")
    user = await client.stored_user_text(sample.result["session_id"])
    hits = [Hit(chunks[i], 0.0, 0.0, 0.0, "") for i in ids]  # the prompt reads the chunk only
    return Prompt(prompt.messages(user, hits), ids)


async def first_token(
    client: ChatClient,
    generator: TritonGenerator,
    chunks: dict[str, Chunk],
    questions: Sequence[str],
    params: GenerationParams,
    rounds: int,
) -> FirstToken:
    """Client first token (SSE, fresh session each) and engine TTFT for the same prompt, at
    concurrency 1, interleaved request by request. Round 0 streams first (its turn gives the
    prompt), odd rounds send the engine request first, so drift and order hit both alike."""
    out = FirstToken()
    prompts: dict[str, Prompt] = {}
    for r in range(rounds):
        for question in questions:
            known = prompts.get(question)
            if r > 0 and known is None:
                continue  # not answered by the model in round 0
            engine: float | None = None
            if known is not None and r % 2 == 1:
                engine = await engine_ttft(generator, known.messages, params)
            try:
                sample = await client.stream_turn(question, max_tokens=params.max_tokens)
            except TurnFailed as exc:
                out.skipped[str(exc)] += 1
                continue
            if sample.answered_by != "model":
                out.skipped[f"answered by {sample.answered_by}"] += 1
                continue
            if known is None:
                known = prompts[question] = await pipeline_prompt(client, chunks, sample)
            if [c["id"] for c in sample.result["citations"]] != known.citation_ids:
                out.skipped["retrieval differed between rounds"] += 1
                continue
            if r % 2 == 0:
                engine = await engine_ttft(generator, known.messages, params)
            if engine is None or sample.first_token_ms is None or "ttft" not in sample.timings:
                out.skipped["no text generated"] += 1
                continue
            out.client_ms.append(sample.first_token_ms)
            out.engine_ms.append(engine)
            out.server_ttft_ms.append(sample.timings["ttft"])
            out.pre_generation_ms.append(sum(sample.timings.get(s, 0.0) for s in PRE_GENERATION))
    return out
