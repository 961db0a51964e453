"""Generation latency and throughput: in-process ``CausalLM.generate`` vs through Triton.

One run, same model, same prompts, greedy decoding, ``--max-tokens`` new tokens each:
  * in-process - ``engines.lm.CausalLM.generate`` called from threads (no server at all);
  * triton     - the embedded Triton server through the chatbot's async gRPC client, for
                 both dialects (llmapi model ``tensorrt_llm``, classic ``ensemble``).
At concurrency 1, 4 and 8 it prints TTFT (time to the first text delta), inter-token latency
(ITL, mean gap between deltas), per-request and total tokens/s. The Triton overhead is the
TTFT difference at concurrency 1 (in ms and as % of the in-process TTFT).

Run: .venv/bin/python bench/generation.py [--max-tokens 32] [--rounds 2] [--device cpu]
On a GPU machine without model downloads: --init-random DIR (config.json + tokenizer files)
benchmarks random fp16 weights of that shape; speed does not depend on the weights.
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
from engines.lm import CausalLM, default_model_file, hf_folder  # noqa: E402
from engines.sampling import GenerationParams  # noqa: E402

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
    line = f"{name:<22}{c:>5}{ttft:>13.1f}{itl:>9.1f}{per_req:>11.1f}{total:>13.1f}"
    return line, ttft


async def overhead(
    lms: CausalLM,
    clients: dict[str, TritonGenerator],
    texts: list[str],
    params: GenerationParams,
    rounds: int,
    count: Callable[[str], int],
) -> None:
    """TTFT at concurrency 1, the three paths interleaved prompt by prompt so drift in machine
    speed hits them alike; the overhead is the median of the paired differences."""
    ttft: dict[str, list[float]] = {"in-process": [], **{d: [] for d in clients}}
    for _ in range(rounds):
        for text in texts:
            ttft["in-process"].append((await timed(in_process(lms, text, params), count)).ttft)
            for dialect, client in clients.items():
                ttft[dialect].append((await timed(client.generate(text, params), count)).ttft)
    base = statistics.median(ttft["in-process"]) * 1000
    for dialect in clients:
        diffs = [(t - b) * 1000 for t, b in zip(ttft[dialect], ttft["in-process"], strict=True)]
        ms = statistics.median(diffs)
        verdict = "PASS" if ms <= 2.0 and ms <= 0.05 * base else "FAIL"
        print(
            f"Triton overhead ({dialect}), concurrency 1, {len(diffs)} paired requests: "
            f"median {ms:+.2f} ms TTFT = {100 * ms / base:+.1f} % of in-process TTFT "
            f"{base:.1f} ms (target <= 2 ms and <= 5 %): {verdict}"
        )


def random_model(config_dir: Path) -> Path:
    """A model folder with random fp16 weights for the config and tokenizer in ``config_dir``:
    speed does not depend on the weights, and a GPU machine cannot fetch real ones."""
    import tempfile

    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    target = Path(tempfile.mkdtemp(prefix="random-lm-"))
    config = AutoConfig.from_pretrained(config_dir)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float16)
    model.save_pretrained(target)
    AutoTokenizer.from_pretrained(config_dir).save_pretrained(target)
    params = sum(p.numel() for p in model.parameters()) / 1e6
    print(f"random-initialised {config.model_type} from {config_dir}: {params:.0f} M parameters")
    return target


async def main_async(args: argparse.Namespace) -> None:
    cache = REPO / ".chatbot" / "cache" / "lm"
    if args.init_random:
        args.model = random_model(args.init_random)
    model = args.model or hf_folder(default_model_file(), cache)
    serial = CausalLM(model, device=args.device, cache_dir=cache, max_batch=1)
    batched = CausalLM(model, device=args.device, cache_dir=cache, max_batch=args.max_batch)
    texts = prompts(batched)
    params = GenerationParams(max_tokens=args.max_tokens, temperature=0.0)

    def count(text: str) -> int:
        return len(batched.encode(text))

    for lm in (serial, batched):  # first-call allocations outside the timings
        list(lm.generate(texts[0], GenerationParams(max_tokens=4)))
    print(
        f"model {batched.name} on {batched.device}, {args.max_tokens} new tokens, greedy, "
        f"{args.rounds} rounds per cell; 'serial' = one sequence at a time (before), "
        f"'batched' = continuous batching up to {args.max_batch} (after; also in Triton)\n"
    )
    header = (
        f"{'path':<22}{'conc':>5}{'TTFT p50 ms':>13}{'ITL ms':>9}{'tok/s/req':>11}"
        f"{'total tok/s':>13}"
    )
    print(header)
    print("-" * len(header))

    async def table(name: str, make: Callable[[str], AsyncIterator[str]]) -> None:
        for c in args.concurrency:
            samples, wall = await measure(make, texts, c, count, args.rounds)
            print(row(name, c, samples, wall)[0])

    await table("in-process serial", lambda p: in_process(serial, p, params))
    await table("in-process batched", lambda p: in_process(batched, p, params))
    with EmbeddedTriton(
        model,
        device=args.device,
        cache_dir=cache,
        grpc_port=args.port,
        http_port=args.port + 1,
        metrics_port=args.port + 2,
        max_batch=args.max_batch,
    ) as server:
        clients = {
            d: TritonGenerator(server.grpc_url, dialect=d, tokenizer=model)  # type: ignore[arg-type]
            for d in ("llmapi", "ensemble")
        }
        for dialect, client in clients.items():
            await client.complete(texts[0], GenerationParams(max_tokens=4))  # warm-up
            await table(f"triton/{dialect}", lambda p, cl=client: cl.generate(p, params))  # type: ignore[misc]
        print()
        await overhead(batched, clients, texts, params, args.overhead_rounds, count)
        for client in clients.values():
            await client.close()
    serial.close()
    batched.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument(
        "--init-random",
        type=Path,
        default=None,
        help="folder with config.json + tokenizer: benchmark random weights",
    )
    parser.add_argument("--device", default="auto")
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--port", type=int, default=28001)
    parser.add_argument("--max-batch", type=int, default=8)
    parser.add_argument("--overhead-rounds", type=int, default=3)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
