"""Ingest throughput: the product's end-to-end ingest next to raw ``SentenceTransformer.encode``.

Measured in one run on the same texts:
  * raw    - ``SentenceTransformer(model).encode(texts)`` with torch fp32 (the baseline);
  * ingest - ``run_ingest`` end to end (load files, chunk, embed, FAISS + BM25, write, switch)
             for each embedding backend (torch fp32, ONNX fp32, ONNX int8).
The corpus is the sample FAQ replicated (``--replicas``) into JSONL and Markdown files; every
replica's texts carry a distinct reference so no two chunks are equal and nothing can be
skipped as a duplicate. Retrieval recall (hybrid, labelled paraphrases) is measured on the
sample FAQ for each backend, so any loss from quantisation is visible next to its speed-up.

Run from the repository root as a module (a plain `python bench/ingest.py` would let this
file shadow the `ingest` package): .venv/bin/python -m bench.ingest [--replicas 40]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from chatbot.settings import Settings
from ingest.chunking import chunk_document, load_document
from ingest.config import EmbeddingBackend
from ingest.embeddings import Embedder, default_model_path
from ingest.pipeline import discover, run_ingest
from ingest.search import Retriever

REPO = Path(__file__).resolve().parents[1]
BACKENDS: tuple[EmbeddingBackend, ...] = ("torch", "onnx", "onnx-int8")


def build_corpus(settings: Settings, folder: Path, replicas: int) -> list[str]:
    """Write the replicated corpus; returns the chunk texts the ingest will embed."""
    files, _ = discover([REPO / "data"])
    chunks = [
        c
        for path, source in files
        for c in chunk_document(
            load_document(path, source, settings.chunking()), settings.chunking()
        )
    ]
    for r in range(replicas):
        faq = [
            {"question": c.title, "answer": f"{c.answer} (Ref {r}.)"}
            for c in chunks
            if c.kind == "faq"
        ]
        (folder / f"faq-{r:03d}.jsonl").write_text("".join(json.dumps(row) + "\n" for row in faq))
        passages = [f"## {c.title}\n\n{c.text} (Ref {r}.)\n" for c in chunks if c.kind != "faq"]
        (folder / f"guide-{r:03d}.md").write_text("\n".join(passages))
    texts: list[str] = []
    for path, source in discover([folder])[0]:
        doc = load_document(path, source, settings.chunking())
        texts.extend(c.text for c in chunk_document(doc, settings.chunking()))
    return texts


def raw_encode(texts: list[str], batch_size: int) -> float:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(default_model_path()), device="cpu")
    model.encode(texts[:64], batch_size=batch_size)  # warm-up
    start = time.perf_counter()
    model.encode(texts, batch_size=batch_size, normalize_embeddings=True)
    return time.perf_counter() - start


def recall(settings: Settings, embedder: Embedder, index_dir: Path) -> tuple[float, float]:
    run_ingest(
        [REPO / "data"],
        index_dir=index_dir,
        chunking=settings.chunking(),
        index=settings.index(),
        embedder=lambda: embedder,
    )
    search = settings.search().model_copy(update={"min_relevance": -1.0})
    retriever = Retriever(index_dir, embedder, search)
    lines = (REPO / "bench" / "retrieval_queries.jsonl").read_text().splitlines()
    cases = [json.loads(line) for line in lines if line.strip()]
    at1 = at5 = 0
    for case in cases:
        titles = [h.chunk.title for h in retriever.search(case["query"], k=5).hits]
        at1 += titles[:1] == [case["expected"]]
        at5 += case["expected"] in titles
    return at1 / len(cases), at5 / len(cases)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=40)
    args = parser.parse_args()
    base = Settings(cache_dir=REPO / ".chatbot" / "cache")

    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        texts = build_corpus(base, corpus, args.replicas)
        docs = len(discover([corpus])[0])
        print(
            f"corpus: {docs} documents, {len(texts)} chunks "
            f"({len(set(texts))} distinct), batch size {base.embedding_batch_size}"
        )
        raw_s = raw_encode(texts, base.embedding_batch_size)
        raw_rate = len(texts) / raw_s
        print(
            f"raw SentenceTransformer.encode (torch fp32): {raw_rate:7.1f} chunks/s "
            f"({raw_s:.1f} s)\n"
        )

        header = (
            f"{'backend':<36}{'ingest s':>9}{'docs/s':>8}{'chunks/s':>10}"
            f"{'vs raw':>8}{'R@1':>7}{'R@5':>7}"
        )
        print(header)
        print("-" * len(header))
        baseline_recall: tuple[float, float] | None = None
        for backend in BACKENDS:
            settings = base.model_copy(update={"embedding_backend": backend})
            embedder = Embedder(settings.embedding())  # loaded (and exported) before timing
            summary = run_ingest(
                [corpus],
                index_dir=Path(tmp) / f"idx-{backend}",
                chunking=settings.chunking(),
                index=settings.index(),
                embedder=lambda e=embedder: e,
            )  # type: ignore[misc]
            assert summary.chunks_embedded == len(texts), "every chunk must be embedded"
            r1, r5 = recall(settings, embedder, Path(tmp) / f"eval-{backend}")
            baseline_recall = baseline_recall or (r1, r5)
            rate = summary.chunks_total / summary.seconds
            name = embedder.backend + (
                f" ({embedder.quantization})" if embedder.quantization else ""
            )
            print(
                f"{name:<36}{summary.seconds:>9.1f}{summary.docs_per_second:>8.2f}"
                f"{rate:>10.1f}{rate / raw_rate:>7.2f}x{r1:>7.3f}{r5:>7.3f}"
            )
            if backend == "onnx-int8":
                loss = max(baseline_recall[0] - r1, baseline_recall[1] - r5) * 100
                verdict = "PASS" if rate / raw_rate >= 2 and loss <= 1 else "FAIL"
                print(
                    f"\ntarget: default ingest >= 2x raw torch fp32 with <= 1 point recall "
                    f"loss -> {rate / raw_rate:.2f}x, loss {loss:.1f} points: {verdict}"
                )


if __name__ == "__main__":
    main()
