"""Integration fixtures: the real embedding model, real FAISS/BM25 indexes on disk."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from chatbot.settings import Settings
from ingest.embeddings import Embedder
from ingest.pipeline import IngestSummary, run_ingest

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "data"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in item.nodeid:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings(cache_dir=REPO / ".chatbot" / "cache")


@pytest.fixture(scope="session")
def embedder(settings: Settings) -> Embedder:
    return Embedder(settings.embedding())


class CountingEmbedder:
    """The real embedder, counting the texts it is asked to embed."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.embedded: list[str] = []

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def encode(self, texts: list[str], **kwargs: object) -> object:
        self.embedded.extend(texts)
        return self.inner.encode(texts, **kwargs)  # type: ignore[arg-type]


Ingest = Callable[..., IngestSummary]


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A private copy of the sample FAQ that a test may change."""
    target = tmp_path / "faq"
    shutil.copytree(DATA, target)
    return target


@pytest.fixture
def ingest(settings: Settings, embedder: Embedder, tmp_path: Path) -> Ingest:
    index_dir = tmp_path / "index"

    def run(*paths: Path, counter: CountingEmbedder | None = None, **kwargs: object) -> IngestSummary:
        model = counter or embedder
        return run_ingest(list(paths), index_dir=index_dir, chunking=settings.chunking(),
                          index=settings.index(), embedder=lambda: model,  # type: ignore[return-value]
                          **kwargs)  # type: ignore[arg-type]

    run.index_dir = index_dir  # type: ignore[attr-defined]
    return run
