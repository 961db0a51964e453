"""The one ingest entry of the chatbot: the CLI (`chatbot ingest`, `chatbot up`) and the admin
route both call :func:`ingest_paths`, so they run the same pipeline with the same settings.

Before a version goes live, its FAQ questions are run through the input rail that can still
refuse them (:func:`review`): a message that close to the served FAQ is never refused as
off-topic, and the injection classifier alone only keeps it from the model, so only the
attack patterns can refuse an FAQ's own question. Those are listed in the summary for the
admin to check (a pattern that misreads the bank's own wording).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from chatbot.settings import Settings
from ingest.embeddings import Embedder
from ingest.models import Chunk
from ingest.pipeline import IngestSummary, run_ingest
from rails import retrieval as retrieval_rail
from rails.injection import InjectionDetector

MAX_LISTED = 20


def review(chunks: Sequence[Chunk], detector: InjectionDetector) -> dict[str, Any]:
    """What the input rails would do with each FAQ question asked word for word."""
    refused: list[dict[str, str]] = []
    withheld = 0
    questions = [c for c in chunks if c.kind == "faq"]
    for chunk in questions:
        found = detector.check(chunk.title)
        if found is None:
            continue
        if found.rail == "injection_pattern":
            refused.append({"id": chunk.id, "question": chunk.title, "reason": found.reason})
        else:
            withheld += 1  # the classifier's doubt: answered from the FAQ's text (curated)
    return {
        "review": {
            "faq_questions": len(questions),
            "refused": len(refused),
            "refused_examples": refused[:MAX_LISTED],
            "classifier_doubts": withheld,
        }
    }


def ingest_paths(
    settings: Settings,
    paths: list[Path],
    *,
    full: bool,
    dry_run: bool,
    embedder: Callable[[], Embedder] | None = None,
    on_embed_start: Callable[[int], None] | None = None,
    on_embedded: Callable[[int], None] | None = None,
) -> IngestSummary:
    """``embedder`` defaults to a fresh model: an ingest never shares one with chat turns."""
    model = functools.cache(embedder or (lambda: Embedder(settings.embedding())))

    def check(chunks: list[Chunk]) -> dict[str, Any]:
        return review(chunks, InjectionDetector(model()))

    return run_ingest(
        paths,
        index_dir=settings.index_dir,
        chunking=settings.chunking(),
        index=settings.index(),
        embedder=model,
        full=full,
        dry_run=dry_run,
        on_embed_start=on_embed_start,
        on_embedded=on_embedded,
        screen=retrieval_rail.screen,
        review=check,
    )
