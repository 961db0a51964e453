"""Generation latency and throughput: in-process ``CausalLM.generate`` vs through Triton.

One run, same model, same prompts, greedy decoding, ``--max-tokens`` new tokens each:
  * in-process - ``engines.lm.CausalLM.generate`` called from threads (no server at all);
  * triton     - the embedded Triton server through the chatbot's async gRPC client, for
                 both dialects (llmapi model ``tensorrt_llm``, classic ``ensemble``).
At concurrency 1, 4 and 8 it prints TTFT (time to the first text delta), inter-token latency
(ITL, mean gap between deltas), per-request and total tokens/s. The Triton overhead is the
TTFT difference at concurrency 1 (in ms and as % of the in-process TTFT).

Run: .venv/bin/python bench/generation.py [--max-tokens 32] [--rounds 2] [--device cpu]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # bench/ingest.py would otherwise shadow the ingest package

from chatbot.generation.client import TritonGenerator  # noqa: E402
from engines.embedded.server import EmbeddedTriton  # noqa: E402
from engines.lm import CausalLM, GenerationParams, default_model_file, hf_folder  # noqa: E402

TOPICS = [
    "savings accounts",
    "lost cards",
    "mortgage overpayments",
    "loan repayments",
    "online banking",
    "foreign fees",
    "overdrafts",
    "fraud alerts",
]


@dataclass
class Sample:
    ttft: float
    gaps: list[float]
    tokens: int
    total: float


def prompts(lm: CausalLM) -> list[str]:
    return [
        lm.render([{"role": "user", "content": f"Explain {t} to a bank customer."}]) for t in TOPICS
    ]


async def timed(deltas: AsyncIterator[str], count: Callable[[str], int]) -> Sample:
    start = time.perf_counter()
    stamps: list[float] = []
    text = []
    async for delta in deltas:
        stamps.append(time.perf_counter())
        text.append(delta)
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    return Sample(stamps[0] - start, gaps, count("".join(text)), stamps[-1] - start)


def in_process(lm: CausalLM, prompt: str, params: GenerationParams) -> AsyncIterator[str]:
    """Run the generator in a thread and hand its deltas to the event loop."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def work() -> None:
        for step in lm.generate(prompt, params):
            if step.text:
                loop.call_soon_threadsafe(queue.put_nowait, step.text)
        loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=work, daemon=True).start()

    async def deltas() -> AsyncIterator[str]:
        while (item := await queue.get()) is not None:
            yield item

    return deltas()


async def measure(
    make: Callable[[str], AsyncIterator[str]],
    texts: list[str],
    concurrency: int,
    count: Callable[[str], int],
    rounds: int,
) -> tuple[list[Sample], float]:
    samples: list[Sample] = []
    wall = 0.0
    for _ in range(rounds):
        batch = [texts[i % len(texts)] for i in range(concurrency)]
        start = time.perf_counter()
        samples += await asyncio.gather(*(timed(make(p), count) for p in batch))
        wall += time.perf_counter() - start
    return samples, wall


def row(name: str, c: int, samples: list[Sample], wall: float) -> tuple[str, float]:
    ttft = statistics.median(s.ttft for s in samples) * 1000
    gaps = [g for s in samples for g in s.gaps]
    itl = statistics.mean(gaps) * 1000 if gaps else 0.0
    per_req = statistics.mean(s.tokens / s.total for s in samples)
    total = sum(s.tokens for s in samples) / wall
    line = f"{name:<17}{c:>5}{ttft:>13.1f}{itl:>9.1f}{per_req:>11.1f}{total:>13.1f}"
    return line, ttft


async def main_async(args: argparse.Namespace) -> None:
    cache = REPO / ".chatbot" / "cache" / "lm"
    model = args.model or hf_folder(default_model_file(), cache)
    lm = CausalLM(model, device=args.device, cache_dir=cache)
    texts = prompts(lm)
    params = GenerationParams(max_tokens=args.max_tokens, temperature=0.0)

    def count(text: str) -> int:
        return len(lm.encode(text))

    # Warm-up (first-call allocations) outside the timings.
    list(lm.generate(texts[0], GenerationParams(max_tokens=4)))
    print(
        f"model {lm.name} on {lm.device}, {args.max_tokens} new tokens, greedy, "
        f"{args.rounds} rounds per cell\n"
    )
    header = (
        f"{'path':<17}{'conc':>5}{'TTFT p50 ms':>13}{'ITL ms':>9}{'tok/s/req':>11}"
        f"{'total tok/s':>13}"
    )
    print(header)
    print("-" * len(header))
    ttft1: dict[str, float] = {}
    for c in args.concurrency:
        samples, wall = await measure(
            lambda p: in_process(lm, p, params), texts, c, count, args.rounds
        )
        line, ttft = row("in-process", c, samples, wall)
        ttft1.setdefault("in-process", ttft)
        print(line)
    with EmbeddedTriton(
        model,
        device=args.device,
        cache_dir=cache,
        grpc_port=args.port,
        http_port=args.port + 1,
        metrics_port=args.port + 2,
    ) as server:
        for dialect in ("llmapi", "ensemble"):
            client = TritonGenerator(server.grpc_url, dialect=dialect, tokenizer=model)  # type: ignore[arg-type]
            await client.complete(texts[0], GenerationParams(max_tokens=4))  # warm-up
            for c in args.concurrency:
                samples, wall = await measure(
                    lambda p, cl=client: cl.generate(p, params),  # type: ignore[misc]
                    texts,
                    c,
                    count,
                    args.rounds,
                )
                line, ttft = row(f"triton/{dialect}", c, samples, wall)
                ttft1.setdefault(dialect, ttft)
                print(line)
            await client.close()
    base = ttft1["in-process"]
    print()
    for dialect in ("llmapi", "ensemble"):
        overhead = ttft1[dialect] - base
        verdict = "PASS" if overhead <= 2.0 and overhead <= 0.05 * base else "FAIL"
        print(
            f"Triton overhead ({dialect}) at concurrency 1: {overhead:+.2f} ms TTFT = "
            f"{100 * overhead / base:+.1f} % of in-process TTFT {base:.1f} ms "
            f"(target <= 2 ms and <= 5 %): {verdict}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--port", type=int, default=28001)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
