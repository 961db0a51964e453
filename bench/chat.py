"""Chat turn latency through the real HTTP API: per-stage timings, pipeline overhead, curated
answers, and first token at the client vs the engine's own time to first token (TTFT).

What one run measures, side by side:
  * model turns - ``--concurrency`` levels (default 1 and 32) of concurrent sessions, each
    session a few turns (``--turns``) of paraphrased FAQ questions (``retrieval_queries.jsonl``)
    through ``POST /v1/chat``. Per stage p50/p99 of the server's ``timings_ms`` (history,
    input_rails, rewrite, retrieval, curated, generation, ttft, output_rails, save, total), the
    pipeline overhead (total - generation, computed by the server) and the client's wall time.
    Target: overhead p50 <= 10 ms and p99 <= 25 ms at 32 concurrent sessions (on 2 cores).
  * curated turns - FAQ questions asked as written (titles of the index's FAQ chunks), each in
    a fresh session: the pipeline answers them from the FAQ without the model; the benchmark
    checks that no generation happened and reports client wall time and server total.
  * first token - ``POST /v1/chat/stream`` (SSE): time from sending the request to the first
    ``token`` event at the client, against the engine's own TTFT for the same prompt (the
    messages the pipeline sends - same question, same retrieved excerpts, rebuilt from the
    turn's citations - streamed straight to the same Triton with the chatbot's
    ``TritonGenerator``), the two interleaved prompt by prompt. Target: client first token
    <= engine TTFT + 20 ms. The server's pre-generation stages (history + input rails +
    rewrite + retrieval + curated check) are printed next to it: they are what separates them.

By default the benchmark starts the stack itself, as ``chatbot up`` does: the embedded Triton
engine (``chatbot.serving.engine_for``) and the API (``chatbot api``, uvicorn) in a child
process on free ports, with a random API key and no rate limit, over the index in
``--index-dir`` (create it with ``chatbot ingest data``). With ``--url`` it measures an already
running API instead (give ``--api-key`` when it needs one, ``--triton-url`` for the engine side
of the first-token comparison, and raise its ``CHATBOT_RATE_LIMIT_PER_MINUTE``).

Run: .venv/bin/python bench/chat.py [--concurrency 1 32] [--turns 2] [--max-tokens 16]
     .venv/bin/python bench/chat.py --url http://127.0.0.1:8000 --api-key KEY \
         --triton-url 127.0.0.1:8001
The benchmark client runs on the same machine as the stack and takes some CPU from it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from httpx_sse import EventSource

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # bench/ingest.py would otherwise shadow the ingest package

from chatbot import prompt  # noqa: E402
from chatbot.errors import ChatbotError  # noqa: E402
from chatbot.generation.client import TritonGenerator  # noqa: E402
from chatbot.serving import engine_for, free_ports  # noqa: E402
from chatbot.settings import Settings  # noqa: E402
from engines.errors import EngineError  # noqa: E402
from engines.sampling import GenerationParams  # noqa: E402
from ingest.errors import IngestError  # noqa: E402
from ingest.models import Chunk  # noqa: E402
from ingest.search import Hit  # noqa: E402
from ingest.store import current_version, load_version  # noqa: E402

QUERIES = REPO / "bench" / "retrieval_queries.jsonl"
PRE_GENERATION = ("history", "embed", "input_rails", "rewrite", "retrieval", "curated")
MODEL_STAGES = (*PRE_GENERATION, "generation", "ttft", "output_rails", "save", "total", "overhead")
CURATED_STAGES = (*PRE_GENERATION, "save", "total")
OVERHEAD_P50_MS, OVERHEAD_P99_MS, FIRST_TOKEN_MS = 10.0, 25.0, 20.0
TARGET_CONCURRENCY = 32
DEFAULT_READ_TIMEOUT_MS = Settings.model_fields["read_timeout"].default * 1000


class BenchError(Exception):
    """The benchmark cannot go on (the stack failed or answered with an error)."""


class TurnFailed(BenchError):
    """One turn failed on the server's side (5xx, or an ``error`` event): counted, not fatal."""


@dataclass(frozen=True)
class TurnSample:
    answered_by: str
    timings: dict[str, float]
    wall_ms: float
    """Client time from sending the request to the complete answer."""
    result: dict[str, Any]
    first_token_ms: float | None = None
    """Streamed turns: client time from sending the request to the first ``token`` event."""


@dataclass
class Level:
    concurrency: int
    samples: list[TurnSample] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    wall_s: float = 0.0

    def of(self, answered_by: str) -> list[TurnSample]:
        return [s for s in self.samples if s.answered_by == answered_by]


# --------------------------------------------------------------------------- HTTP client


class ChatClient:
    def __init__(self, url: str, api_key: str | None, timeout: float) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = httpx.AsyncClient(
            base_url=url,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=10.0),
            limits=httpx.Limits(max_connections=512, max_keepalive_connections=512),
        )

    async def close(self) -> None:
        await self.http.aclose()

    @staticmethod
    def _problem(text: str) -> str:
        with contextlib.suppress(ValueError, AttributeError):
            problem = json.loads(text)
            return str(problem.get("title") or problem.get("detail") or "")
        return text[:200]

    def _fail(self, response: httpx.Response) -> BenchError:
        status = response.status_code
        where = f"{response.request.method} {response.request.url.path}: HTTP {status}"
        if status >= 500:
            return TurnFailed(f"HTTP {status} {self._problem(response.text)}".rstrip())
        hint = {
            401: " (give the API key with --api-key)",
            429: " (rate limited: raise CHATBOT_RATE_LIMIT_PER_MINUTE on the server)",
        }.get(status, "")
        return BenchError(f"{where}{hint} {response.text[:400]}".rstrip())

    @staticmethod
    def _body(message: str, session_id: str | None, max_tokens: int | None) -> dict[str, Any]:
        body: dict[str, Any] = {"message": message}
        if session_id:
            body["session_id"] = session_id
        if max_tokens:
            body["max_tokens"] = max_tokens
        return body

    async def turn(
        self, message: str, session_id: str | None = None, max_tokens: int | None = None
    ) -> TurnSample:
        start = time.perf_counter()
        response = await self.http.post(
            "/v1/chat", json=self._body(message, session_id, max_tokens)
        )
        wall = (time.perf_counter() - start) * 1000
        if response.status_code != 200:
            raise self._fail(response)
        result: dict[str, Any] = response.json()
        return TurnSample(result["answered_by"], result["timings_ms"], wall, result)

    async def stream_turn(
        self, message: str, session_id: str | None = None, max_tokens: int | None = None
    ) -> TurnSample:
        body = self._body(message, session_id, max_tokens)
        first: float | None = None
        result: dict[str, Any] | None = None
        start = time.perf_counter()
        async with self.http.stream("POST", "/v1/chat/stream", json=body) as response:
            if response.status_code != 200:
                await response.aread()
                raise self._fail(response)
            async for event in EventSource(response).aiter_sse():
                if event.event == "token" and first is None:
                    first = (time.perf_counter() - start) * 1000
                elif event.event == "done":
                    result = json.loads(event.data)
                elif event.event == "error":
                    raise TurnFailed(f"error event: {self._problem(event.data)}")
        wall = (time.perf_counter() - start) * 1000
        if result is None:
            raise BenchError("the stream ended without a done event")
        return TurnSample(result["answered_by"], result["timings_ms"], wall, result, first)

    async def stored_user_text(self, session_id: str) -> str:
        """The last user message as the pipeline saw it (after PII masking)."""
        response = await self.http.get(f"/v1/sessions/{session_id}")
        if response.status_code != 200:
            raise self._fail(response)
        turns: list[dict[str, Any]] = response.json()["turns"]
        return str(turns[-1]["user"])

    async def wait_ready(self, timeout: float, alive: Callable[[], bool]) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if not alive():
                raise BenchError("the API process exited while starting (see its log above)")
            with contextlib.suppress(httpx.TransportError):
                response = await self.http.get("/health/ready")
                if response.status_code == 200:
                    return
                last = f"HTTP {response.status_code}: {response.text[:200]}"
            await asyncio.sleep(0.5)
        raise BenchError(f"the API was not ready after {timeout:.0f} s ({last})")


# --------------------------------------------------------------------------- workloads


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


# --------------------------------------------------------------------------- report


def pct(values: Sequence[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else math.nan


def fmt(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.1f}"


def table(title: str, rows: list[tuple[str, list[float]]], levels: Sequence[int]) -> None:
    """One row per measure: p50 and p99 at each concurrency level, side by side."""
    print(f"\n{title}")
    header = f"{'':<24}" + "".join(f"{f'c={c} p50':>12}{f'c={c} p99':>12}" for c in levels)
    print(header)
    print("-" * len(header))
    for name, cells in rows:
        print(f"{name:<24}" + "".join(f"{fmt(v):>12}" for v in cells))


def timing(stage: str) -> Callable[[TurnSample], float | None]:
    return lambda sample: sample.timings.get(stage)


def stage_rows(
    levels: Sequence[list[TurnSample]], stages: Sequence[str], client_overhead: bool
) -> list[tuple[str, list[float]]]:
    rows: list[tuple[str, list[float]]] = []

    def row(name: str, get: Callable[[TurnSample], float | None]) -> None:
        cells: list[float] = []
        for samples in levels:
            values = [v for s in samples if (v := get(s)) is not None]
            cells += [pct(values, 50), pct(values, 99)]
        rows.append((name, cells))

    for stage in stages:
        row(stage, timing(stage))
    row("client wall time", lambda s: s.wall_ms)
    if client_overhead:
        row("client wall - generation", lambda s: s.wall_ms - s.timings.get("generation", 0.0))
    return rows


def versus(name: str, value: float, target: float) -> str:
    if math.isnan(value):
        return f"{name} not measured"
    gap = target - value
    if gap >= 0:
        return f"{name} {value:.1f} ms <= {target:.0f} ms: met ({gap:.1f} ms to spare)"
    return f"{name} {value:.1f} ms > {target:.0f} ms: MISSED by {-gap:.1f} ms"


def mix(level: Level) -> str:
    counts = Counter(s.answered_by for s in level.samples)
    text = ", ".join(f"{k} {v}" for k, v in counts.most_common()) or "none"
    if level.errors:
        text += "; FAILED " + ", ".join(f"{v} x {k}" for k, v in level.errors.most_common())
    return text


def report_levels(model: list[Level], curated: list[Level], route: str, max_tokens: int) -> None:
    rows = stage_rows([lv.of("model") for lv in model], MODEL_STAGES, client_overhead=True)
    table(
        f"Model-answered turns, POST {route}, max_tokens {max_tokens}: server timings_ms and "
        "client wall time, ms",
        rows,
        [lv.concurrency for lv in model],
    )
    for lv in model:
        print(
            f"  c={lv.concurrency}: {len(lv.samples)} turns in {lv.wall_s:.1f} s "
            f"({len(lv.samples) / lv.wall_s:.2f} turns/s), answered by {mix(lv)} "
            "(the table: model turns only)"
        )
        late = [s for s in lv.of("model") if s.timings.get("ttft", 0.0) >= DEFAULT_READ_TIMEOUT_MS]
        if late:
            print(
                f"    {len(late)} of them waited >= {DEFAULT_READ_TIMEOUT_MS / 1000:.0f} s for the "
                "first token: with the default CHATBOT_READ_TIMEOUT they would have failed"
            )
    rows = stage_rows([lv.samples for lv in curated], CURATED_STAGES, client_overhead=False)
    table(
        "Curated-answer turns (FAQ questions as written, fresh session each): ms",
        rows,
        [lv.concurrency for lv in curated],
    )
    for lv in curated:
        wrong = [s for s in lv.samples if s.answered_by != "curated"]
        generated = [s for s in lv.samples if "generation" in s.timings]
        print(
            f"  c={lv.concurrency}: {len(lv.samples) - len(wrong)}/{len(lv.samples)} answered "
            f"by curated ({mix(lv)}); turns with a generation stage: {len(generated)}"
        )


def report_first_token(ft: FirstToken | None, reason: str) -> list[str]:
    """The table, and the verdict lines (target: client first token <= engine TTFT + 20 ms)."""
    if ft is None or not ft.client_ms:
        skipped = ", ".join(f"{k}: {v}" for k, v in ft.skipped.items()) if ft else ""
        detail = reason or skipped or "no pairs"
        print(f"\nFirst token: not measured ({detail})")
        return [f"first token: not measured ({detail})"]
    client, engine = pct(ft.client_ms, 50), pct(ft.engine_ms, 50)
    paired = [c - e for c, e in zip(ft.client_ms, ft.engine_ms, strict=True)]
    added = [c - t for c, t in zip(ft.client_ms, ft.server_ttft_ms, strict=True)]
    print(
        f"\nFirst token at concurrency 1, {len(paired)} paired requests "
        "(POST /v1/chat/stream vs the same prompt straight to Triton), ms"
    )
    header = f"{'':<44}{'p50':>10}{'p99':>10}"
    print(header)
    print("-" * len(header))
    for name, values in (
        ("client: request sent -> first token event", ft.client_ms),
        ("engine TTFT (TritonGenerator, same prompt)", ft.engine_ms),
        ("server ttft stage (inside the pipeline)", ft.server_ttft_ms),
        ("server pre-generation stages (sum)", ft.pre_generation_ms),
        ("client - engine TTFT, paired", paired),
        ("client - server ttft, same request", added),
    ):
        print(f"{name:<44}{fmt(pct(values, 50)):>10}{fmt(pct(values, 99)):>10}")
    if ft.skipped:
        print("  skipped: " + ", ".join(f"{k}: {v}" for k, v in ft.skipped.items()))
    print(
        "  Where the engine's TTFT varies between requests by more than the 20 ms target, the\n"
        "  side-by-side difference is noise; 'client - server ttft' compares within one request\n"
        "  (the server's ttft stage is the same TritonGenerator call as the engine column): the\n"
        "  time the chatbot adds before (pre-generation stages) and after (HTTP, SSE) it."
    )
    return [
        versus(
            f"first token side by side: client p50 {client:.1f} - engine TTFT p50 {engine:.1f} =",
            client - engine,
            FIRST_TOKEN_MS,
        ),
        versus(
            "first token within the request: client - server ttft p50",
            pct(added, 50),
            FIRST_TOKEN_MS,
        ),
    ]


# --------------------------------------------------------------------------- the run


def paraphrases() -> list[str]:
    with QUERIES.open(encoding="utf-8") as fh:
        return [json.loads(line)["query"] for line in fh if line.strip()]


def faq_chunks(index_dir: Path) -> tuple[dict[str, Chunk], list[str]]:
    chunks = load_version(index_dir).chunks
    titles = sorted({c.title for c in chunks if c.kind == "faq" and c.answer})
    return {c.id: c for c in chunks}, titles


@dataclass(frozen=True)
class Stack:
    url: str
    api_key: str | None
    triton_url: str | None
    alive: Callable[[], bool] = lambda: True
    """False once a child API process has exited."""


async def bench(args: argparse.Namespace, stack: Stack) -> None:
    started = time.perf_counter()
    settings = Settings()
    client = ChatClient(stack.url, stack.api_key, args.timeout)
    questions = paraphrases()
    chunks, titles = faq_chunks(args.index_dir)
    if not titles:
        raise BenchError(f"no FAQ entries in the index at {args.index_dir}: --index-dir?")
    try:
        await client.wait_ready(args.startup_timeout, stack.alive)
        print(f"warming up ({args.warmup} model + {args.warmup} curated turns)…", flush=True)
        for i in range(args.warmup):
            try:
                await client.turn(questions[i % len(questions)], max_tokens=args.max_tokens)
                await client.turn(titles[i % len(titles)])
            except TurnFailed as exc:
                print(f"  warm-up turn failed: {exc}", flush=True)

        async def ask(message: str, session_id: str | None) -> TurnSample:
            call = client.stream_turn if args.stream else client.turn
            return await call(message, session_id, args.max_tokens)

        model_levels: list[Level] = []
        curated_levels: list[Level] = []
        for n, c in enumerate(args.concurrency):
            count = max(c, math.ceil(args.min_turns / args.turns))
            print(
                f"model turns: {c} concurrent sessions, {count} sessions x {args.turns} turns…",
                flush=True,
            )
            sessions = plan(questions, count, args.turns, offset=n * 17)
            model_levels.append(await run_sessions(c, sessions, ask))
            print(f"curated turns: {c} concurrent, {args.curated_turns} turns…", flush=True)
            curated_sessions = plan(titles, args.curated_turns, 1, offset=n * 7)
            curated_levels.append(
                await run_sessions(c, curated_sessions, lambda m, _s: client.turn(m))
            )

        ft: FirstToken | None = None
        reason = ""
        triton_url = stack.triton_url
        if args.first_token_prompts <= 0 or args.first_token_rounds <= 0:
            reason = "disabled"
        elif triton_url is None:
            reason = "no --triton-url for the engine side"
        else:
            print(
                f"first token: {args.first_token_prompts} prompts x {args.first_token_rounds} "
                "rounds, API stream and engine interleaved…",
                flush=True,
            )
            generator = TritonGenerator(
                triton_url, dialect=settings.triton_dialect, tokenizer=settings.tokenizer
            )
            params = GenerationParams(
                max_tokens=min(args.first_token_max_tokens, settings.max_tokens),
                temperature=settings.temperature,
                stop=tuple(settings.stop),
            )
            try:
                await asyncio.to_thread(lambda: generator.tokenizer)
                step = max(1, len(questions) // args.first_token_prompts)
                picked = questions[::step][: args.first_token_prompts]
                ft = await first_token(
                    client, generator, chunks, picked, params, args.first_token_rounds
                )
            finally:
                await generator.close()
    finally:
        await client.close()

    report_levels(model_levels, curated_levels, args.route, args.max_tokens)
    first_verdicts = report_first_token(ft, reason)

    print("\nVerdicts")
    for lv in model_levels:
        overhead = [s.timings["overhead"] for s in lv.of("model")]
        note = "" if lv.concurrency == TARGET_CONCURRENCY else " (the target is stated at 32)"
        failed = f", {sum(lv.errors.values())} failed turns" if lv.errors else ""
        print(
            f"  overhead at c={lv.concurrency}{note}, {len(overhead)} model turns{failed}: "
            f"{versus('p50', pct(overhead, 50), OVERHEAD_P50_MS)}; "
            f"{versus('p99', pct(overhead, 99), OVERHEAD_P99_MS)}"
        )
    for line in first_verdicts:
        print(f"  {line}")
    generated = sum("generation" in s.timings for lv in curated_levels for s in lv.samples)
    total = sum(len(lv.samples) for lv in curated_levels)
    print(f"  curated turns without a model call: {total - generated}/{total}")
    print(f"\nbenchmark took {time.perf_counter() - started:.0f} s")


@contextlib.contextmanager
def api_process(env: dict[str, str], port: int) -> Iterator[subprocess.Popen[bytes]]:
    """``chatbot api`` in a child process (its own CPU time, as in a deployment); its output
    goes to a log file that is printed if it fails."""
    with tempfile.NamedTemporaryFile(prefix="chatbot-bench-api-", suffix=".log") as log:
        command = [sys.executable, "-m", "chatbot", "api", "--host", "127.0.0.1"]
        process = subprocess.Popen(
            [*command, "--port", str(port)], env=env, cwd=REPO, stdout=log, stderr=log
        )
        try:
            yield process
        except BaseException:
            log.flush()
            tail = Path(log.name).read_text(errors="replace")[-3000:]
            if tail.strip():
                print(f"--- API log (tail) ---\n{tail}\n---", file=sys.stderr)
            raise
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def _interrupt(signum: int, frame: object) -> None:
    # One is enough: `timeout` signals the process and then its group, and a second
    # KeyboardInterrupt would break off the clean-up the first one started.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


def self_hosted(
    args: argparse.Namespace, run: Callable[[Stack], Coroutine[Any, Any, None]]
) -> None:
    """Start the stack as ``chatbot up`` does and ``run`` the benchmark against it. ``args``
    carries ``index_dir``, ``cache_dir``, ``redis_url`` and ``read_timeout``."""
    # SIGTERM as Ctrl-C: Python's default ends the process without unwinding, which would
    # leave the API and the engine this function started running.
    signal.signal(signal.SIGTERM, _interrupt)
    api_port, grpc_port, http_port, metrics_port = free_ports(4)
    key = secrets.token_urlsafe(24)
    triton_url = f"127.0.0.1:{grpc_port}"
    overrides = {
        "CHATBOT_HOST": "127.0.0.1",
        "CHATBOT_PORT": str(api_port),
        "CHATBOT_TRITON_URL": triton_url,
        "CHATBOT_API_KEYS": key,
        "CHATBOT_RATE_LIMIT_PER_MINUTE": "1000000",
        "CHATBOT_INDEX_DIR": str(args.index_dir),
        "CHATBOT_CACHE_DIR": str(args.cache_dir),
    }
    if args.redis_url:
        overrides["CHATBOT_REDIS_URL"] = args.redis_url
    if args.read_timeout:
        overrides["CHATBOT_READ_TIMEOUT"] = str(args.read_timeout)
    settings = Settings(
        triton_url=triton_url,
        engine_http_port=http_port,
        engine_metrics_port=metrics_port,
        cache_dir=args.cache_dir,
    )
    print(
        "starting the stack as `chatbot up` does: embedded Triton "
        f"({settings.engine_model or 'default model'}) "
        f"on {triton_url} "
        f"(http {http_port}, metrics {metrics_port}), API on 127.0.0.1:{api_port}, "
        f"sessions in {'Redis ' + args.redis_url if args.redis_url else 'memory'}, "
        f"read timeout {args.read_timeout or settings.read_timeout:.0f} s…",
        flush=True,
    )
    with api_process({**os.environ, **overrides}, api_port) as api:
        stack = Stack(f"http://127.0.0.1:{api_port}", key, triton_url, lambda: api.poll() is None)
        with engine_for(settings) as engine:
            if engine is None:
                raise BenchError(f"another Triton answers on {triton_url}; retry")
            asyncio.run(run(stack))
            api.terminate()  # stop the API before the engine it talks to


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--turns", type=int, default=2, help="turns per session")
    parser.add_argument(
        "--min-turns", type=int, default=12, help="at least this many turns per level"
    )
    parser.add_argument("--max-tokens", type=int, default=16, help="per generated answer")
    parser.add_argument("--curated-turns", type=int, default=40, help="per level")
    parser.add_argument("--first-token-prompts", type=int, default=6)
    parser.add_argument("--first-token-rounds", type=int, default=2)
    parser.add_argument("--first-token-max-tokens", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--stream", action="store_true", help="model turns over the SSE route")
    parser.add_argument("--url", default=None, help="measure this running API instead")
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--triton-url", default=None, help="with --url: its Triton (gRPC)")
    parser.add_argument("--index-dir", type=Path, default=REPO / ".chatbot" / "index")
    parser.add_argument("--cache-dir", type=Path, default=REPO / ".chatbot" / "cache")
    parser.add_argument("--redis-url", default=None, help="sessions in Redis (default: memory)")
    parser.add_argument("--timeout", type=float, default=900.0, help="per request, seconds")
    parser.add_argument(
        "--read-timeout",
        type=float,
        default=600.0,
        help="the started API's CHATBOT_READ_TIMEOUT: at 32 sessions on 2 cores requests queue "
        "in the engine past the default 60 s; 0 keeps the default",
    )
    parser.add_argument("--startup-timeout", type=float, default=300.0)
    args = parser.parse_args()
    if min(args.concurrency) < 1 or args.turns < 1 or args.max_tokens < 1:
        parser.error("--concurrency, --turns and --max-tokens must be >= 1")
    args.route = "/v1/chat/stream" if args.stream else "/v1/chat"
    args.index_dir = args.index_dir.resolve()
    args.cache_dir = args.cache_dir.resolve()
    print(
        f"bench/chat.py: concurrency {args.concurrency}, {args.turns} turns/session, >= "
        f"{args.min_turns} turns per level, max_tokens {args.max_tokens}, "
        f"{args.curated_turns} curated turns per level, first token {args.first_token_prompts} "
        f"prompts x {args.first_token_rounds} rounds (max_tokens "
        f"{args.first_token_max_tokens}), route {args.route}"
        f"; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    try:
        # Curated questions and the first-token prompts come from the index the API serves.
        if current_version(args.index_dir) is None:
            raise BenchError(
                f"no index in {args.index_dir}: run `chatbot ingest data` first "
                "(or pass --index-dir)"
            )
        if args.url:
            stack = Stack(args.url.rstrip("/"), args.api_key, args.triton_url)
            asyncio.run(bench(args, stack))
        else:
            self_hosted(args, lambda stack: bench(args, stack))
    except (BenchError, httpx.HTTPError, ChatbotError, EngineError, IngestError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
