"""The one ingest entry of the chatbot: the CLI (`chatbot ingest`, `chatbot up`) and the admin
route both call :func:`ingest_paths`, so they run the same pipeline with the same settings.

Before a version goes live, its FAQ questions are run through the input rail that can still
refuse them (:func:`review`): a message that close to the served FAQ is never refused as
off-topic, and the injection classifier alone only keeps it from the model, so only the
attack patterns can refuse an FAQ's own question. Those are listed in the summary for the
admin to check (a pattern that misreads the bank's own wording).

Every ingest also reads the admin's FAQ file (``settings.admin_faq_file``, the entries written
through ``/admin/faq``) whatever paths are given: the paths are the whole corpus, so leaving it
out would remove the admin's answers. The regression gate (:mod:`ingest.gate`) runs with the
settings' golden file and margin, ranking as the chat pipeline does.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any

from chatbot.settings import Settings
from ingest.embeddings import Embedder
from ingest.gate import GateConfig
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


def _covers(paths: Sequence[Path], file: Path) -> bool:
    """Whether ingesting ``paths`` already reads ``file`` (named, or found in a folder the
    way :func:`ingest.pipeline.discover` walks it, skipping hidden parts)."""
    target = file.resolve()
    for path in paths:
        root = path.resolve()
        if root == target:
            return True
        inside = root.is_dir() and target.is_relative_to(root)
        if inside and not any(p.startswith(".") for p in target.relative_to(root).parts):
            return True
    return False


def with_admin_faq(settings: Settings, paths: list[Path]) -> list[Path]:
    """``paths`` plus the admin's FAQ file when it exists and is not among them."""
    file = settings.admin_faq_file
    if not file.is_file() or _covers(paths, file):
        return list(paths)
    return [*paths, file]


def gate_config(settings: Settings) -> GateConfig:
    """The gate ranks as the chat pipeline does: the search's hits, as many as a turn reads,
    the curated threshold of the answer policy."""
    return GateConfig(
        max_drop=settings.gate_max_drop,
        golden_file=settings.golden_file,
        search=settings.search(),
        depth=settings.context_chunks,
        curated=settings.curated_threshold,
    )


def ingest_paths(
    settings: Settings,
    paths: list[Path],
    *,
    full: bool,
    dry_run: bool,
    force: bool = False,
    keep_unlisted: bool = False,
    remove: Collection[str] = (),
    embedder: Callable[[], Embedder] | None = None,
    on_embed_start: Callable[[int], None] | None = None,
    on_embedded: Callable[[int], None] | None = None,
) -> IngestSummary:
    """``embedder`` defaults to a fresh model: an ingest never shares one with chat turns.
    ``force`` publishes a version the regression gate refuses; ``keep_unlisted`` keeps the
    served documents that ``paths`` do not hold (publishing the admin's FAQ file alone), except
    the documents named in ``remove``."""
    model = functools.cache(embedder or (lambda: Embedder(settings.embedding())))

    def check(chunks: list[Chunk]) -> dict[str, Any]:
        return review(chunks, InjectionDetector(model()))

    return run_ingest(
        with_admin_faq(settings, paths),
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
        gate=gate_config(settings),
        force=force,
        keep_unlisted=keep_unlisted,
        remove=remove,
    )
