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
engine and the API (``chatbot api``, uvicorn) in a child process on free ports
(``bench/hosting.py``, over the launcher ``chatbot.stack``), with a random API key and no rate
limit, over the index in ``--index-dir`` (create it with ``chatbot ingest data``). With
``--url`` it measures an already running API instead (give ``--api-key`` when it needs one,
``--triton-url`` for the engine side of the first-token comparison, and raise its
``CHATBOT_RATE_LIMIT_PER_MINUTE``).

With ``--engine fixed`` the started API talks to the fixed-token engine instead of the model
(``engines.embedded.fixed``: the same Triton server and dialects, streaming set text at a set
rate with no model work), and the benchmark measures the pipeline's overhead apart from
generation on both routes at each concurrency, and the first token against the engine's TTFT
(``bench/chat_fixed.py`` says what, and how).

Run: .venv/bin/python bench/chat.py [--concurrency 1 32] [--turns 2] [--max-tokens 16]
     .venv/bin/python bench/chat.py --url http://127.0.0.1:8000 --api-key KEY \
         --triton-url 127.0.0.1:8001
     .venv/bin/python bench/chat.py --engine fixed --fixed-ttft-ms 50 --fixed-itl-ms 10 \
         --fixed-tokens 32 [--dialect ensemble]
The benchmark client runs on the same machine as the stack and takes some CPU from it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # bench/ingest.py would otherwise shadow the ingest package

from bench.chat_client import BenchError, ChatClient, Stack, TurnFailed, TurnSample  # noqa: E402
from bench.chat_fixed import bench_fixed  # noqa: E402
from bench.chat_load import FirstToken, Level, first_token, plan, run_sessions  # noqa: E402
from bench.chat_report import (  # noqa: E402
    OVERHEAD_P50_MS,
    OVERHEAD_P99_MS,
    TARGET_CONCURRENCY,
    pct,
    report_first_token,
    report_levels,
    versus,
)
from bench.hosting import fixed_engine, self_hosted  # noqa: E402
from chatbot.errors import ChatbotError  # noqa: E402
from chatbot.generation.client import TritonGenerator  # noqa: E402
from chatbot.settings import Settings  # noqa: E402
from engines.errors import EngineError  # noqa: E402
from engines.sampling import GenerationParams  # noqa: E402
from ingest.errors import IngestError  # noqa: E402
from ingest.models import Chunk  # noqa: E402
from ingest.store import current_version, load_version  # noqa: E402

QUERIES = REPO / "bench" / "retrieval_queries.jsonl"


def paraphrases() -> list[str]:
    with QUERIES.open(encoding="utf-8") as fh:
        return [json.loads(line)["query"] for line in fh if line.strip()]


def faq_chunks(index_dir: Path) -> tuple[dict[str, Chunk], list[str]]:
    chunks = load_version(index_dir).chunks
    titles = sorted({c.title for c in chunks if c.kind == "faq" and c.answer})
    return {c.id: c for c in chunks}, titles


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
                triton_url,
                dialect=args.dialect or settings.triton_dialect,
                tokenizer=settings.tokenizer,
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--turns", type=int, default=2, help="turns per session")
    parser.add_argument(
        "--min-turns",
        type=int,
        default=None,
        help="at least this many turns per level (default 12; 48 with --engine fixed)",
    )
    parser.add_argument(
        "--max-tokens",
        type=int,
        default=None,
        help="per generated answer (default 16; --fixed-tokens with --engine fixed)",
    )
    parser.add_argument(
        "--engine",
        choices=["model", "fixed"],
        default="model",
        help="what the started API generates with: the embedded model, or the fixed-token "
        "engine (same Triton server and dialects, set text at a set rate, no model work)",
    )
    parser.add_argument("--fixed-ttft-ms", type=float, default=50.0)
    parser.add_argument("--fixed-itl-ms", type=float, default=10.0)
    parser.add_argument("--fixed-tokens", type=int, default=32)
    parser.add_argument("--fixed-text", default=None, help="default: the engine's own")
    parser.add_argument(
        "--engine-rounds",
        type=int,
        default=16,
        help="--engine fixed: streams straight to the engine, to see it keep its schedule",
    )
    parser.add_argument(
        "--dialect", choices=["llmapi", "ensemble"], default=None, help="the started API's"
    )
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
    fixed = args.engine == "fixed"
    if args.min_turns is None:
        args.min_turns = 48 if fixed else 12
    if args.max_tokens is None:
        args.max_tokens = args.fixed_tokens if fixed else 16
    if min(args.concurrency) < 1 or args.turns < 1 or args.max_tokens < 1:
        parser.error("--concurrency, --turns and --max-tokens must be >= 1")
    if fixed and args.url:
        parser.error("--engine fixed starts the stack itself: leave out --url")
    args.route = "/v1/chat/stream" if args.stream else "/v1/chat"
    args.index_dir = args.index_dir.resolve()
    args.cache_dir = args.cache_dir.resolve()
    if fixed:
        workload = (
            f"engine fixed (TTFT {args.fixed_ttft_ms:g} ms, ITL {args.fixed_itl_ms:g} ms, "
            f"{args.fixed_tokens} tokens), routes /v1/chat and /v1/chat/stream, "
            f"{args.engine_rounds} streams straight to the engine"
        )
    else:
        workload = (
            f"{args.curated_turns} curated turns per level, first token "
            f"{args.first_token_prompts} prompts x {args.first_token_rounds} rounds (max_tokens "
            f"{args.first_token_max_tokens}), route {args.route}"
        )
    print(
        f"bench/chat.py: concurrency {args.concurrency}, {args.turns} turns/session, >= "
        f"{args.min_turns} turns per level, max_tokens {args.max_tokens}, {workload}"
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
        spec = fixed_engine(args)
        if spec is not None:
            questions = paraphrases()
            self_hosted(args, lambda stack: bench_fixed(args, stack, spec, questions))
        elif args.url:
            stack = Stack(args.url.rstrip("/"), args.api_key, args.triton_url)
            asyncio.run(bench(args, stack))
        else:
            self_hosted(args, lambda stack: bench(args, stack))
    except (BenchError, httpx.HTTPError, ChatbotError, EngineError, IngestError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
