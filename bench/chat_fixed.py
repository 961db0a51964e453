"""``bench/chat.py --engine fixed``: the pipeline's overhead apart from generation, against the
fixed-token engine (``engines.embedded.fixed``: a real Triton server with the embedded
engine's models, streaming set text at a set rate and doing no model work), so that rails,
retrieval, sessions, SSE and HTTP are measured without a model taking the cores (what the
engine still takes, Triton's own work per streamed token, is reported).

What one run measures, side by side:
  * which paraphrased FAQ questions (``retrieval_queries.jsonl``) the pipeline answers through
    generation: each asked once in a fresh session; only those are asked afterwards (the
    others are answered from the FAQ, refused or abstained on, without the engine). Every
    message asked afterwards is new to the API (the question with an opener and a closer of
    its own: ``messages``), so no turn reads a vector that the query cache remembers;
  * at each concurrency (default 1 and 32 sessions) and on both routes (``POST /v1/chat``,
    ``POST /v1/chat/stream``), turns through generation: per stage p50/p99 of the server's
    ``timings_ms``, the server's overhead (total - generation), and at the client its wall
    time minus the engine's own time as configured (TTFT + (n - 1) x ITL for the n tokens the
    turn gets): everything but generation, HTTP and SSE included; on the SSE route the first
    token at the client minus the engine's TTFT as configured;
  * the engine measured by a client next to it (``TritonGenerator`` straight to Triton, one
    stream at a time), alone and alongside each run: how closely it keeps its schedule, and
    so whether a turn's time beyond the schedule is the engine's or the pipeline's;
  * the CPU time of the API, the engine (Triton and its model stubs) and the benchmark's own
    client over each run.
Targets: overhead p50 <= 10 ms and p99 <= 25 ms at 32 concurrent sessions (on 2 cores); at 1
session, first token at the client <= engine TTFT + 20 ms.

The fixed text is not grounded in the FAQ: the output rails check every sentence against
every retrieved chunk and retract the answer; the report says how many they kept and
retracted. Its sentences fail the word check outright, so the rails embed none of them: an
answer that leaves sentences in doubt costs the rails an embedding more (``bench/rails_eval.py``
measures the rails' own latency), and a model answers with new sentences each time where this
one is always the same.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.chat_client import BenchError, ChatClient, Stack, TurnFailed, TurnSample
from bench.chat_load import PRE_GENERATION, Level, run_sessions
from bench.chat_report import (
    FIRST_TOKEN_MS,
    OVERHEAD_P50_MS,
    OVERHEAD_P99_MS,
    TARGET_CONCURRENCY,
    fmt,
    mix,
    pct,
    table,
    versus,
)
from chatbot.generation.client import TritonGenerator
from chatbot.settings import Settings
from engines.contract import DialectName
from engines.embedded.fixed import FixedTokens
from engines.sampling import GenerationParams

ROUTES = {"json": "/v1/chat", "sse": "/v1/chat/stream"}
# Openers and closers that ask for nothing (no greeting, which a dialog flow would answer).
OPENERS = (
    "Quick question:",
    "Can you tell me:",
    "I was wondering:",
    "Please advise:",
    "Question:",
    "One thing:",
    "Help me with this:",
    "Simple one:",
)
CLOSERS = ("", " Please.", " Thanks.", " Cheers.", " Thank you.", " Many thanks.")
STAGES = (*PRE_GENERATION, "output_rails", "save", "generation", "ttft", "total")
ENGINE_PROMPT = "<|im_start|>user\nHow do I freeze my card?<|im_end|>\n<|im_start|>assistant\n"
TICK = os.sysconf("SC_CLK_TCK")
Ask = Callable[[str, str | None, int | None], Awaitable[TurnSample]]


# --------------------------------------------------------------------------- CPU time


def _cpu_seconds(pid: int, group: bool) -> float:
    """CPU time (user + system) of a process, or of every process in its group."""
    total = 0
    paths = Path("/proc").iterdir() if group else [Path(f"/proc/{pid}")]
    for path in paths:
        if not path.name.isdigit():
            continue
        try:
            # Fields after the command's closing parenthesis: state ppid pgrp ... utime stime
            fields = (path / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if group and int(fields[2]) != pid:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / TICK


@dataclass(frozen=True)
class Cpu:
    """CPU seconds so far of the API, the engine and this benchmark."""

    api: float
    engine: float
    client: float

    @classmethod
    def now(cls, stack: Stack) -> Cpu:
        times = os.times()
        return cls(
            _cpu_seconds(stack.api_pid, group=False) if stack.api_pid else math.nan,
            _cpu_seconds(stack.engine_pid, group=True) if stack.engine_pid else math.nan,
            times.user + times.system,
        )

    def __sub__(self, before: Cpu) -> Cpu:
        return Cpu(self.api - before.api, self.engine - before.engine, self.client - before.client)

    def share(self, seconds: float) -> str:
        """In % of one core over ``seconds``."""
        parts = (("API", self.api), ("engine", self.engine), ("bench client", self.client))
        return ", ".join(f"{name} {100 * used / seconds:.0f} %" for name, used in parts)


# --------------------------------------------------------------------------- the runs


@dataclass
class Probe:
    """Streams straight to the engine (``TritonGenerator``, from this process), as the
    pipeline's client sends them: when the first token and the last came, in ms."""

    ttft_ms: list[float] = field(default_factory=list)
    answer_ms: list[float] = field(default_factory=list)

    async def once(self, generator: TritonGenerator, params: GenerationParams) -> None:
        first: float | None = None
        start = time.perf_counter()
        async with contextlib.aclosing(generator.stream(ENGINE_PROMPT, params)) as steps:
            async for step in steps:
                if step.text and first is None:
                    first = (time.perf_counter() - start) * 1000
        if first is not None:
            self.ttft_ms.append(first)
            self.answer_ms.append((time.perf_counter() - start) * 1000)

    async def alongside(
        self, generator: TritonGenerator, params: GenerationParams, done: asyncio.Event
    ) -> None:
        """One stream after another until ``done``: the engine's schedule under the load."""
        while not done.is_set():
            await self.once(generator, params)


@dataclass
class Arm:
    """The turns of one concurrency on one route, the CPU they took, and the engine's
    schedule meanwhile."""

    concurrency: int
    route: str
    level: Level
    cpu: Cpu
    """CPU seconds the run took."""
    probe: Probe

    @property
    def label(self) -> str:
        return f"c={self.concurrency} {self.route}"

    def generated(self) -> list[TurnSample]:
        return [s for s in self.level.samples if "generation" in s.timings]


@dataclass
class Engine:
    """The fixed engine's schedule for the pipeline's request, and as a client saw it alone."""

    fixed: FixedTokens
    params: GenerationParams
    tokens: int = field(init=False)
    ttft_ms: float = field(init=False)
    answer_ms: float = field(init=False)
    alone: Probe = field(default_factory=Probe)

    def __post_init__(self) -> None:
        self.tokens = len(self.fixed.plan(self.params))
        self.ttft_ms = self.fixed.seconds(1) * 1000
        self.answer_ms = self.fixed.seconds(self.tokens) * 1000


def messages(
    questions: Sequence[str], count: int, turns: int, start: int
) -> tuple[list[list[str]], int]:
    """``count`` sessions of ``turns`` messages, cycling through ``questions``, each message
    the ``start + i``-th variant of the run (no two alike while the variants last); and the
    next ``start``."""
    n, variants = len(questions), len(OPENERS) * len(CLOSERS)
    sessions: list[list[str]] = []
    for _ in range(count):
        session = []
        for _ in range(turns):
            question, v = questions[start % n], (start // n) % variants
            opener, closer = OPENERS[v % len(OPENERS)], CLOSERS[v // len(OPENERS)]
            session.append(f"{opener} {question}{closer}")
            start += 1
        sessions.append(session)
    return sessions, start


async def model_questions(
    client: ChatClient, questions: Sequence[str], concurrency: int
) -> tuple[list[str], Counter[str]]:
    """The questions the pipeline answers through generation (one token each, fresh
    sessions), and how the others were answered."""
    gate = asyncio.Semaphore(concurrency)

    async def ask(question: str) -> TurnSample | TurnFailed:
        async with gate:
            try:
                return await client.turn(question, max_tokens=1)
            except TurnFailed as exc:
                return exc

    answers = await asyncio.gather(*(ask(q) for q in questions))
    chosen, others = [], Counter[str]()
    for question, answer in zip(questions, answers, strict=True):
        if isinstance(answer, TurnFailed):
            others[f"failed: {answer}"] += 1
        elif "generation" in answer.timings:
            chosen.append(question)
        else:
            others[answer.answered_by] += 1
    return chosen, others


async def bench_fixed(
    args: argparse.Namespace, stack: Stack, fixed: FixedTokens, questions: Sequence[str]
) -> None:
    started = time.perf_counter()
    settings = Settings()
    max_tokens = min(args.max_tokens, settings.max_tokens)
    engine = Engine(fixed, GenerationParams(max_tokens=max_tokens, stop=tuple(settings.stop)))
    dialect: DialectName = args.dialect or settings.triton_dialect
    client = ChatClient(stack.url, stack.api_key, args.timeout)
    assert stack.triton_url is not None
    generator = TritonGenerator(stack.triton_url, dialect=dialect)
    arms: list[Arm] = []
    try:
        await client.wait_ready(args.startup_timeout, stack.alive)
        print(
            f"asking each of {len(questions)} paraphrases once, to keep those answered "
            "through generation (also the warm-up)…",
            flush=True,
        )
        chosen, others = await model_questions(client, questions, concurrency=4)
        skipped = ", ".join(f"{k} {v}" for k, v in others.most_common()) or "none"
        print(f"  {len(chosen)} go through generation; the others: {skipped}", flush=True)
        if not chosen:
            raise BenchError("no question reached generation: is the index the sample FAQ?")
        for _ in range(args.warmup):
            with contextlib.suppress(TurnFailed):
                await client.stream_turn(chosen[0], max_tokens=max_tokens)
        asked = 0
        for c in args.concurrency:
            count = max(c, math.ceil(args.min_turns / args.turns))
            for route in ROUTES:
                call = client.stream_turn if route == "sse" else client.turn

                async def ask(m: str, s: str | None, call: Ask = call) -> TurnSample:
                    return await call(m, s, max_tokens)

                print(
                    f"{ROUTES[route]}: {c} concurrent sessions, {count} sessions x "
                    f"{args.turns} turns…",
                    flush=True,
                )
                sessions, asked = messages(chosen, count, args.turns, asked)
                probe, done = Probe(), asyncio.Event()
                before = Cpu.now(stack)
                probing = asyncio.create_task(probe.alongside(generator, engine.params, done))
                level = await run_sessions(c, sessions, ask)
                cpu = Cpu.now(stack) - before
                done.set()
                await probing
                arms.append(Arm(c, route, level, cpu, probe))
        distinct = min(asked, len(chosen) * len(OPENERS) * len(CLOSERS))
        print(f"  {asked} messages, {distinct} of them distinct", flush=True)
        print(f"the engine alone: {args.engine_rounds} streams straight to Triton…", flush=True)
        for _ in range(args.engine_rounds):
            await engine.alone.once(generator, engine.params)
    finally:
        await generator.close()
        await client.close()
    report(arms, engine, dialect)
    print(f"\nbenchmark took {time.perf_counter() - started:.0f} s")


# --------------------------------------------------------------------------- the report


def _cells(arms: Sequence[Arm], get: Callable[[TurnSample], float | None]) -> list[float]:
    cells: list[float] = []
    for arm in arms:
        values = [v for s in arm.generated() if (v := get(s)) is not None]
        cells += [pct(values, 50), pct(values, 99)]
    return cells


def report(arms: Sequence[Arm], engine: Engine, dialect: DialectName) -> None:
    e = engine
    print(
        f"\nFixed-token engine ({dialect}): TTFT {e.fixed.ttft_ms:g} ms, ITL {e.fixed.itl_ms:g} "
        f"ms, {e.fixed.tokens} tokens; the pipeline asks max_tokens {e.params.max_tokens}, stop "
        f"{list(e.params.stop)}: {e.tokens} tokens a turn, engine time {e.answer_ms:.1f} ms "
        f"(TTFT + {e.tokens - 1} x ITL)"
    )
    answer, ttft = e.answer_ms, e.ttft_ms

    def first(s: TurnSample) -> float | None:
        return s.first_token_ms

    def first_added(s: TurnSample) -> float | None:
        return None if s.first_token_ms is None else s.first_token_ms - ttft

    def stage(name: str) -> Callable[[TurnSample], float | None]:
        return lambda s: s.timings.get(name)

    for route, path in ROUTES.items():
        these = [arm for arm in arms if arm.route == route]
        measures: list[tuple[str, Callable[[TurnSample], float | None]]] = [
            *((name, stage(name)) for name in STAGES),
            ("server overhead (total-gen)", lambda s: s.timings["overhead"]),
            ("generation - engine time", lambda s: s.timings["generation"] - answer),
            ("client wall time", lambda s: s.wall_ms),
            ("client wall - engine time", lambda s: s.wall_ms - answer),
        ]
        if route == "sse":
            measures += [("client first token", first), ("first token - engine TTFT", first_added)]
        table(
            f"Turns through generation, POST {path}: server timings_ms and client times, ms",
            [(name, _cells(these, get)) for name, get in measures],
            [arm.concurrency for arm in these],
            name_width=28,
        )
    for arm in arms:
        generated = arm.generated()
        kept = sum(s.answered_by == "model" for s in generated)
        streams = len(generated) + len(arm.probe.ttft_ms)
        print(
            f"  {arm.label}: {len(arm.level.samples)} turns in {arm.level.wall_s:.1f} s, "
            f"{len(generated)} through generation (output rails kept {kept}, retracted "
            f"{len(generated) - kept}); answered by {mix(arm.level)}\n"
            f"    CPU, % of one core (the probe's streams included): "
            f"{arm.cpu.share(arm.level.wall_s)}; the engine's per streamed token: "
            f"{1e6 * arm.cpu.engine / max(1, streams * e.tokens):.0f} us"
        )
    print(
        "  'generation' is the server's stage around the engine's stream: it also holds the\n"
        "  chat template, the gRPC client and, between tokens, whatever the route does with\n"
        "  each one (SSE writes), which the server's overhead leaves out and 'client wall -\n"
        "  engine time' counts."
    )

    print(
        "\nThe engine's schedule: streams straight to Triton from the benchmark "
        "(TritonGenerator), one at a time, alone and alongside each run, ms"
    )
    header = f"{'':<30}{'streams':>8}{'1st p50':>9}{'1st p99':>9}{'last p50':>10}{'last p99':>10}"
    print(header)
    print("-" * len(header))
    print(f"{'configured':<30}{'':>8}{ttft:>9.1f}{ttft:>9.1f}{answer:>10.1f}{answer:>10.1f}")
    for name, probe in (("alone", e.alone), *((f"during {a.label}", a.probe) for a in arms)):
        cells = [pct(probe.ttft_ms, 50), pct(probe.ttft_ms, 99)]
        last = [pct(probe.answer_ms, 50), pct(probe.answer_ms, 99)]
        print(
            f"{name:<30}{len(probe.ttft_ms):>8}{fmt(cells[0]):>9}{fmt(cells[1]):>9}"
            f"{fmt(last[0]):>10}{fmt(last[1]):>10}"
        )
    print(
        "  A probe alongside a run shares this process's event loop with the run's HTTP\n"
        "  client: its lateness is an upper bound on the engine's."
    )

    print(
        f"\nVerdicts (targets: overhead p50 <= {OVERHEAD_P50_MS:.0f} ms and p99 <= "
        f"{OVERHEAD_P99_MS:.0f} ms at {TARGET_CONCURRENCY} sessions; first token at 1 session "
        f"<= engine TTFT + {FIRST_TOKEN_MS:.0f} ms)"
    )
    for arm in arms:
        generated = arm.generated()
        note = "" if arm.concurrency == TARGET_CONCURRENCY else " (target stated at 32)"
        failed = f", {sum(arm.level.errors.values())} failed" if arm.level.errors else ""
        for name, values in (
            ("server overhead", [s.timings["overhead"] for s in generated]),
            ("client wall - engine time", [s.wall_ms - answer for s in generated]),
        ):
            print(
                f"  {arm.label}{note}, {name}, {len(values)} turns{failed}: "
                f"{versus('p50', pct(values, 50), OVERHEAD_P50_MS)}; "
                f"{versus('p99', pct(values, 99), OVERHEAD_P99_MS)}"
            )
    for arm in arms:
        if arm.route != "sse" or arm.concurrency != 1:
            continue
        added = [v for s in arm.generated() if (v := first_added(s)) is not None]
        print(
            f"  first token at c=1, client - engine TTFT {ttft:g} ms, {len(added)} turns: "
            f"{versus('p50', pct(added, 50), FIRST_TOKEN_MS)}; "
            f"{versus('p99', pct(added, 99), FIRST_TOKEN_MS)}"
        )
        measured = pct(added, 50) + ttft - pct(e.alone.ttft_ms, 50)
        print(
            "    against the TTFT measured straight at the engine (gRPC and Triton included): "
            f"client p50 - measured p50 = {measured:.1f} ms"
        )
    for name, probe in (("alone", e.alone), *((a.label, a.probe) for a in arms)):
        print(
            f"  the engine's schedule, {name}: first token p50 "
            f"{pct(probe.ttft_ms, 50) - ttft:+.1f} ms, last token p50 "
            f"{pct(probe.answer_ms, 50) - answer:+.1f} ms against the configured times"
        )
