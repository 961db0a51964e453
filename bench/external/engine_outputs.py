"""Real engine outputs to label for the claim check: ``python bench/external/engine_outputs.py``.

For a seeded sample of a corpus's development queries, the product's retrieval picks the
chunks, ``chatbot.prompt`` renders the grounded prompt and the embedded Triton engine answers
(greedy, the settings' token cap and stop strings): the same generation a ``model`` turn
makes, without the answer policy in front of it (which would answer most of them from the
FAQ's text). Each answer is split into the claim check's sentences and written, with the
chunk ids it was given, to ``.chatbot/external/<corpus>/engine-outputs-dev.jsonl`` for
labelling (``bench/external/grounding-<corpus>.jsonl``, read by ``bench/answers.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from chatbot import prompt  # noqa: E402
from chatbot.generation.client import TritonGenerator  # noqa: E402
from chatbot.serving import engine_for  # noqa: E402
from chatbot.settings import Settings  # noqa: E402
from chatbot.stack import on_free_ports  # noqa: E402
from engines.sampling import GenerationParams  # noqa: E402
from ingest.embeddings import Embedder  # noqa: E402
from ingest.search import Retriever  # noqa: E402
from rails.grounding import sentences  # noqa: E402

EXTERNAL = REPO / ".chatbot" / "external"
SEED = 20261207
SAMPLE = {"faq_question": 100, "answerable": 60, "unanswerable": 60, "banking77": 80}


async def generate(
    settings: Settings, corpus: str, rows: list[dict[str, Any]], concurrency: int
) -> list[dict[str, Any]]:
    embedder = Embedder(settings.embedding())
    retriever = Retriever(EXTERNAL / corpus / "index", embedder, settings.search())
    generator = TritonGenerator(settings.triton_url, dialect=settings.triton_dialect)
    params = GenerationParams(
        max_tokens=settings.max_tokens, temperature=settings.temperature, stop=tuple(settings.stop)
    )
    gate = asyncio.Semaphore(concurrency)

    async def one(row: dict[str, Any]) -> dict[str, Any]:
        hits = retriever.search(row["text"]).hits[: settings.context_chunks]
        messages = prompt.messages(row["text"], hits)
        parts = []
        async with gate:
            async for step in generator.stream(messages, params):
                parts.append(step.text)
        answer = "".join(parts).strip()
        return {
            "split": "dev",
            "query": row["i"],
            "question": row["text"],
            "kind": row["kind"],
            "chunk_ids": [h.chunk.id for h in hits],
            "answer": answer,
            "sentences": sentences(answer),
        }

    try:
        return list(await asyncio.gather(*(one(r) for r in rows)))
    finally:
        await generator.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="bankfaq")
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    path = EXTERNAL / args.corpus / "queries-dev.jsonl"
    queries = [
        {**json.loads(line), "i": i}
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines())
    ]
    rng = random.Random(SEED)
    rows: list[dict[str, Any]] = []
    for kind, n in SAMPLE.items():
        pool = [q for q in queries if q["kind"] == kind]
        rng.shuffle(pool)
        rows += pool[:n]
    settings = on_free_ports(Settings())
    with engine_for(settings):
        out = asyncio.run(generate(settings, args.corpus, rows, args.concurrency))
    target = EXTERNAL / args.corpus / "engine-outputs-dev.jsonl"
    target.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in out), "utf-8")
    print(f"{len(out)} answers, {sum(len(r['sentences']) for r in out)} sentences -> {target}")


if __name__ == "__main__":
    main()
