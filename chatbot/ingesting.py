"""The one ingest entry of the chatbot: the CLI (`chatbot ingest`, `chatbot up`) and the admin
route both call :func:`ingest_paths`, so they run the same pipeline with the same settings."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from chatbot.settings import Settings
from ingest.embeddings import Embedder
from ingest.pipeline import IngestSummary, run_ingest
from rails import retrieval as retrieval_rail


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
    return run_ingest(
        paths,
        index_dir=settings.index_dir,
        chunking=settings.chunking(),
        index=settings.index(),
        embedder=embedder or (lambda: Embedder(settings.embedding())),
        full=full,
        dry_run=dry_run,
        on_embed_start=on_embed_start,
        on_embedded=on_embedded,
        screen=retrieval_rail.screen,
    )
