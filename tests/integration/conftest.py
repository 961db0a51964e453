"""Integration fixtures: the real embedding model, real FAISS/BM25 indexes on disk, and one
real embedded Triton server (both dialects) per test session."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from chatbot.settings import Settings
from chatbot.stack import embedded_engine
from engines.embedded.server import EmbeddedTriton
from ingest.embeddings import Embedder
from ingest.pipeline import IngestSummary, run_ingest

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "data"
CACHE = REPO / ".chatbot" / "cache" / "lm"


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


class Ingest:
    """Runs the real ingest pipeline into one temporary index folder."""

    def __init__(self, settings: Settings, embedder: Embedder, index_dir: Path) -> None:
        self.settings = settings
        self.embedder = embedder
        self.index_dir = index_dir

    def __call__(
        self,
        *paths: Path,
        counter: CountingEmbedder | None = None,
        full: bool = False,
        dry_run: bool = False,
    ) -> IngestSummary:
        model = counter or self.embedder
        return run_ingest(
            list(paths),
            index_dir=self.index_dir,
            chunking=self.settings.chunking(),
            index=self.settings.index(),
            embedder=lambda: model,  # type: ignore[arg-type,return-value]
            full=full,
            dry_run=dry_run,
        )


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A private copy of the sample FAQ that a test may change."""
    target = tmp_path / "faq"
    shutil.copytree(DATA, target)
    return target


@pytest.fixture
def ingest(settings: Settings, embedder: Embedder, tmp_path: Path) -> Ingest:
    return Ingest(settings, embedder, tmp_path / "index")


def engine_on(ports: list[int], log: Path) -> EmbeddedTriton:
    """An embedded Triton (not started) on the given gRPC, HTTP and metrics ports."""
    return embedded_engine(ports, cache_dir=CACHE, log_file=log, device="cpu")


def start_server(log: Path) -> EmbeddedTriton:
    """An embedded Triton started on free ports."""
    return embedded_engine(cache_dir=CACHE, log_file=log, device="cpu").start()


@pytest.fixture(scope="session")
def triton(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedTriton]:
    server = start_server(tmp_path_factory.mktemp("triton") / "triton.log")
    try:
        yield server
    finally:
        server.stop()
