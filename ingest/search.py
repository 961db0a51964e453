"""Hybrid retrieval over the served index version: dense (FAISS) + lexical (BM25), fused by
score, with a cosine threshold for "nothing relevant".

Fusion: ``score = cosine + lexical_weight * bm25 / max_bm25`` over the union of the candidate
lists, where ``cosine`` is the better of the query's cosine with the chunk and with the chunk's
title embedded alone (for an FAQ pair, its question: a customer's question is closer to
another wording of the same question than to question and answer together). We measured
reciprocal rank fusion too (``bench/retrieval.py``): on paraphrased customer questions BM25
ranks poorly, and RRF gives its ranking as much say as the dense one, costing recall; a small
score weight keeps exact-term matches (IBAN, product names) as a tie-breaker without that
loss. The threshold applies to the cosine, which is comparable
across queries where fused scores are not.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ingest.config import SearchConfig
from ingest.dense import set_nprobe
from ingest.embeddings import Embedder
from ingest.errors import IndexUnavailableError
from ingest.models import Chunk
from ingest.store import IndexVersion, current_version, load_version

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    score: float
    """Fused score: orders the hits."""
    dense_score: float
    """Cosine similarity of query and chunk."""
    lexical_score: float
    """BM25 score (0 when lexical search did not return the chunk)."""
    index_version: str
    title_score: float = 0.0
    """Cosine of query and the chunk's title (its FAQ question) embedded alone; 0 for an
    index made before titles were embedded."""

    @property
    def relevance(self) -> float:
        """The cosine the relevance threshold applies to."""
        return max(self.dense_score, self.title_score)


@dataclass(frozen=True)
class SearchResult:
    query: str
    hits: list[Hit]
    index_version: str

    @property
    def relevant(self) -> bool:
        return bool(self.hits)


def fuse(cosines: dict[int, float], lexical: dict[int, float], weight: float) -> dict[int, float]:
    """Cosine plus ``weight`` times the BM25 score scaled to [0, 1] within this query."""
    top = max(lexical.values(), default=0.0)
    return {
        row: cos + (weight * lexical.get(row, 0.0) / top if top > 0 else 0.0)
        for row, cos in cosines.items()
    }


class Retriever:
    """Searches the version ``CURRENT`` points at, reloading when the pointer moves."""

    def __init__(self, index_dir: Path, embedder: Embedder, config: SearchConfig) -> None:
        self.index_dir = index_dir
        self.embedder = embedder
        self.config = config
        self._lock = threading.Lock()
        self._index: IndexVersion | None = None

    @property
    def index(self) -> IndexVersion:
        """The served version, (re)loaded if ``CURRENT`` changed since the last call."""
        wanted = current_version(self.index_dir)
        if wanted is None:
            raise IndexUnavailableError(f"no index in {self.index_dir}: run `chatbot ingest`")
        loaded = self._index
        if loaded is not None and loaded.version == wanted:
            return loaded
        with self._lock:
            if self._index is None or self._index.version != wanted:
                index = load_version(self.index_dir, wanted)
                if index.manifest.dimension != self.embedder.dim:
                    raise IndexUnavailableError(
                        f"index {wanted} holds {index.manifest.dimension}-d vectors but the "
                        f"embedding model gives {self.embedder.dim}-d: re-ingest with --full"
                    )
                if index.manifest.embedding_id != self.embedder.id:
                    # Served anyway: another backend or int8 format of the same model stays
                    # close (cosine about 0.99), and refusing would take the chat down.
                    log.warning(
                        "index %s was embedded as %s, queries are embedded as %s: re-ingest "
                        "with --full for exact scores",
                        wanted,
                        index.manifest.embedding_id,
                        self.embedder.id,
                    )
                set_nprobe(index.dense, self.config.nprobe)
                if index.title_dense is not None:
                    set_nprobe(index.title_dense, self.config.nprobe)
                self._index = index
            return self._index

    def search(self, query: str, k: int | None = None) -> SearchResult:
        k = k or self.config.k
        index = self.index
        query_vector = self.embedder.encode_query(query)
        n = min(self.config.candidates, len(index.chunks))
        _, dense_rows = index.dense.search(query_vector[None, :], n)
        found = {int(r) for r in dense_rows[0] if r >= 0}
        if index.title_dense is not None:
            _, title_rows = index.title_dense.search(query_vector[None, :], n)
            found |= {int(r) for r in title_rows[0] if r >= 0}
        lexical_rows, lexical_scores = index.lexical.search(query, n)
        lexical = dict(zip(lexical_rows.tolist(), lexical_scores.tolist(), strict=True))
        rows = sorted(found | set(lexical))
        # Exact cosines for every candidate, also those only BM25 found (vectors are memory-mapped).
        chunk_cos = np.asarray(index.vectors[rows]) @ query_vector if rows else np.zeros(0)
        title_cos = (
            np.asarray(index.titles[rows]) @ query_vector
            if rows and index.titles is not None
            else np.zeros(len(rows))
        )
        best = np.maximum(chunk_cos, title_cos)
        cosines = dict(zip(rows, best.tolist(), strict=True))
        fused = fuse(cosines, lexical, self.config.lexical_weight)
        at = {row: i for i, row in enumerate(rows)}
        ranked = sorted(rows, key=lambda r: fused[r], reverse=True)
        hits = [
            Hit(
                chunk=index.chunks[row],
                score=fused[row],
                dense_score=float(chunk_cos[at[row]]),
                lexical_score=lexical.get(row, 0.0),
                index_version=index.version,
                title_score=float(title_cos[at[row]]),
            )
            for row in ranked
            if cosines[row] >= self.config.min_relevance
        ]
        return SearchResult(query=query, hits=hits[:k], index_version=index.version)
