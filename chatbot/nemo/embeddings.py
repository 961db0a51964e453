"""The process's embedding model inside NeMo Guardrails: intents, the injection classifier,
the groundedness check and retrieval share one model and one cache of query vectors."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import numpy as np
from nemoguardrails.embeddings.basic import BasicEmbeddingsIndex
from nemoguardrails.embeddings.index import IndexItem
from nemoguardrails.embeddings.providers import register_embedding_provider
from nemoguardrails.embeddings.providers.base import EmbeddingModel

from chatbot.errors import ConfigurationError
from chatbot.nemo.switch import Speedup, active
from ingest.embeddings import Embedder

ENGINE = "chatbot"
"""The embedding engine and search provider a rails config names (``embedding_engine``,
``core.embedding_search_provider``)."""
_EMBEDDERS: dict[str, Embedder] = {}
_registered: list[bool] = []  # NeMo's provider registry refuses a second registration


def register_embedder(name: str, embedder: Embedder) -> None:
    """Make ``embedder`` the model a rails config names ``name`` under engine ``chatbot``."""
    _EMBEDDERS[name] = embedder
    if not _registered:
        register_embedding_provider(SharedEmbeddings, ENGINE)
        _registered.append(True)


class SharedEmbeddings(EmbeddingModel):  # type: ignore[misc]  # NeMo ships no types
    """NeMo embedding engine ``chatbot``: the process's own :class:`Embedder` (its ``model``
    names an entry of the registry), so intents and retrieval share one model and one cache."""

    engine_name = ENGINE

    def __init__(self, embedding_model: str, **_: Any) -> None:
        self.name = embedding_model

    def _embedder(self) -> Embedder:
        try:
            return _EMBEDDERS[self.name]
        except KeyError:
            raise ConfigurationError(f"no embedder registered as {self.name!r}") from None

    def encode(self, documents: list[str]) -> list[list[float]]:
        embedder = self._embedder()
        if len(documents) == 1:
            return [embedder.encode_query(documents[0]).tolist()]
        return [row.tolist() for row in embedder.encode(documents)]

    async def encode_async(self, documents: list[str]) -> list[list[float]]:
        if len(documents) == 1:
            # The injection check has usually embedded the message already: no worker thread.
            cached = self._embedder().cached_query(documents[0])
            if cached is not None:
                return [cached.tolist()]
        return await asyncio.to_thread(self.encode, documents)


class SharedIndex(BasicEmbeddingsIndex):  # type: ignore[misc]  # NeMo ships no types
    """NeMo embedding search provider ``chatbot``: NeMo's exact index, searched (with
    :attr:`Speedup.HELD_VECTOR_SEARCH`) with the vector the embedder holds for the message.
    NeMo's own search has it turned into a list and back, scores every example and formats
    the best five for a log line whether the log is on or not. Same results: the scores of
    the few best are computed as NeMo computes them (the tests compare the two searches)."""

    async def search(
        self, text: str, max_results: int = 20, threshold: float | None = None
    ) -> list[IndexItem]:
        if Speedup.HELD_VECTOR_SEARCH not in active():
            found: list[IndexItem] = await super().search(text, max_results, threshold)
            return found
        if threshold is None:
            threshold = self.search_threshold
        if self._index is None:
            raise ValueError("Index is not built yet. Ensure to call `build` before searching.")
        if self._index.shape[0] == 0:
            return []
        query = _EMBEDDERS[self.embedding_model].cached_query(text)
        if query is None:
            query = np.asarray((await self._get_embeddings([text]))[0], dtype=np.float32)
        norm = np.linalg.norm(query)
        if norm > 0:
            query = query / norm
        cosine = self._index @ query
        k = min(max_results, cosine.shape[0])
        top = np.argpartition(-cosine, k - 1)[:k]
        top = top[np.argsort(-cosine[top])]
        # NeMo's score, kept from its Annoy days (the threshold in config.yml is one): 1 minus
        # half the angular distance, a monotonic function of the cosine.
        scores = 1.0 - np.sqrt(np.clip(2.0 - 2.0 * cosine[top], 0.0, None)) / 2.0
        if not math.isinf(threshold):
            top = top[scores >= threshold]
        return [self._items[int(i)] for i in top]
