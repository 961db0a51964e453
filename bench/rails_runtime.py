"""The NeMo runtime variants side by side (``python bench/rails_eval.py --runtime``): each
speed-up of ``chatbot.nemo`` turned on in turn through its public switch, and the embedding
model's threads left spinning or stopped before an input call."""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

import onnxruntime

from bench.rails_common import TURN, Latency, read, table
from chatbot import nemo
from chatbot.guard import Guardrails
from ingest.embeddings import Embedder
from rails.actions import RailsContext
from rails.pii import mask

Speedup = nemo.Speedup
ON_LOOP = "+ checks on the loop unless they run the model"
# Each variant adds one change to the one before it; the last is what the chatbot runs.
VARIANTS: list[tuple[str, Speedup | None]] = [
    ("NeMo as shipped", None),
    ("+ unused library flows dropped", Speedup.PRUNED_FLOWS),
    ("+ expression parse cache", Speedup.CACHED_EXPRESSIONS),
    ("+ history replayed once", Speedup.RESUMED_REPLAY),
    ("+ action signatures read once", Speedup.SIGNATURES),
    (ON_LOOP, None),
    ("+ events made without debug checks", Speedup.EVENTS),
    ("+ uids from pooled randomness", Speedup.UIDS),
    ("+ intent search on the held vector", Speedup.HELD_VECTOR_SEARCH),
    ("+ the runtime called directly, output call from the answer", Speedup.DIRECT_CALL),
]
SHIPPED = VARIANTS[0][0]
assert {s for _, s in VARIANTS if s} == nemo.ALL  # every speed-up is measured


async def _in_thread(context: RailsContext, check: Callable[[Any], Any]) -> Any:
    """``RailsContext.run`` as it was: every check in a worker thread."""
    return await asyncio.to_thread(check, context.encoder)


@contextlib.contextmanager
def _runtime(variant: str) -> Iterator[None]:
    """The speed-ups of ``variant`` and the ones before it on, the others off (the public
    switch), and the actions' worker threads before the variant that drops them."""
    names = [name for name, _ in VARIANTS]
    before = VARIANTS[: names.index(variant) + 1]
    nemo.install(s for _, s in before if s)
    try:
        with contextlib.ExitStack() as stack:
            if ON_LOOP not in {name for name, _ in before}:
                stack.enter_context(mock.patch.object(RailsContext, "run", _in_thread))
            yield
    finally:
        nemo.install()


async def compare_runtime(guard: Guardrails, embedder: Embedder, split: str, lat: Latency) -> None:
    """The NeMo calls on the same turns (a genuine question, then a grounded answer) with the
    runtime as NeMo ships it (through ``generate_async``), then with each speed-up of
    ``chatbot.nemo`` and the checks on the event loop (``rails.actions``) added in turn,
    interleaved in one run. As in the pipeline, the message is embedded right before each
    input call (its vector is already cached: the run is what matters, for the state it
    leaves the CPU in); and each turn starts with another variant, so none always runs first.
    The last variant's pair, input then output call, is the rails' cost per answered turn
    (recorded in ``lat``)."""
    names = [name for name, _ in VARIANTS]
    questions = [r for r in read(f"messages-{split}.jsonl") if r["label"] == "genuine"]
    answers = [r for r in read(f"grounding-{split}.jsonl") if r["label"] == "grounded"]
    times: dict[tuple[str, str], list[float]] = {}
    for turn, question in enumerate(questions):
        answer = answers[turn % len(answers)]
        masked = mask(question["text"]).text
        embedder.encode_query(masked)
        first = turn % len(names)
        for name in names[first:] + names[:first]:
            embedder.encode([masked])  # the pipeline's embed stage
            with _runtime(name):
                start = time.perf_counter()
                await guard.check_input(masked)
                middle = time.perf_counter()
                await guard.check_output(answer["question"], answer["answer"], answer["context"])
                end = time.perf_counter()
            times.setdefault((name, "input"), []).append((middle - start) * 1000)
            times.setdefault((name, "output"), []).append((end - middle) * 1000)
            times.setdefault((name, "turn"), []).append((end - start) * 1000)
            if name == names[-1]:
                lat.samples.setdefault(TURN, []).append((end - start) * 1000)
    rows = []
    shipped = statistics.median(times[(SHIPPED, "turn")])
    for name in names:
        p50 = {call: statistics.median(times[(name, call)]) for call in ("input", "output", "turn")}
        rows.append(
            f"| {name} | {p50['input']:.2f} | {p50['output']:.2f} | {p50['turn']:.2f} "
            f"| {shipped / p50['turn']:.2f}x |"
        )
    table(
        f"NeMo calls p50 (ms), {len(questions)} turns interleaved",
        ["runtime", "input call", "output call", "per turn", "vs shipped"],
        rows,
    )


async def compare_spinning(guard: Guardrails, embedder: Embedder, split: str) -> None:
    """The input call right after the message's embedding, with ONNX Runtime's threads left
    spinning after each run (its default) and stopped (``ingest.embeddings``), in alternate
    blocks of all turns: interleaved turn by turn, one embedder's spinning would reach into
    the other's measurements."""
    with mock.patch("ingest.embeddings._session_options", onnxruntime.SessionOptions):
        spinning = Embedder(embedder.config)
    blocks = [("left spinning (ONNX Runtime's default)", spinning), ("stopped", embedder)] * 2
    rows = read(f"messages-{split}.jsonl")
    genuine = [mask(r["text"]).text for r in rows if r["label"] == "genuine"]
    times: dict[str, tuple[list[float], list[float]]] = {}
    for name, model in blocks:
        embeds, calls = times.setdefault(name, ([], []))
        for text in genuine:
            start = time.perf_counter()
            model.encode([text])
            middle = time.perf_counter()
            await guard.check_input(text)
            embeds.append((middle - start) * 1000)
            calls.append((time.perf_counter() - middle) * 1000)
    table(
        f"Embedding, then the input call, p50 (ms), {len(genuine)} turns, alternate blocks",
        ["embedding model's threads after a run", "embedding", "input call"],
        [
            f"| {name} | {statistics.median(e):.2f} | {statistics.median(c):.2f} |"
            for name, (e, c) in times.items()
        ],
    )
