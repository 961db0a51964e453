"""BM25 lexical index (bm25s) with English stemming and stop words."""

from __future__ import annotations

from pathlib import Path

import bm25s
import numpy as np
import numpy.typing as npt
import Stemmer

_STEMMER = Stemmer.Stemmer("english")


def _tokens(texts: list[str]) -> list[list[str]]:
    tokens: list[list[str]] = bm25s.tokenize(
        texts, stopwords="en", stemmer=_STEMMER.stemWords, return_ids=False, show_progress=False
    )
    return tokens


class LexicalIndex:
    def __init__(self, bm25: bm25s.BM25, size: int) -> None:
        self._bm25 = bm25
        self.size = size

    @classmethod
    def build(cls, texts: list[str]) -> LexicalIndex:
        bm25 = bm25s.BM25()
        bm25.index(
            bm25s.tokenize(texts, stopwords="en", stemmer=_STEMMER.stemWords, show_progress=False),
            show_progress=False,
        )
        return cls(bm25, len(texts))

    def save(self, folder: Path) -> None:
        self._bm25.save(str(folder), show_progress=False)

    @classmethod
    def load(cls, folder: Path, size: int) -> LexicalIndex:
        return cls(bm25s.BM25.load(str(folder), show_progress=False), size)

    def search(self, query: str, k: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """Row ids and BM25 scores of the best ``k`` chunks with a score above zero."""
        tokens = _tokens([query])
        if not tokens[0] or self.size == 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        ids, scores = self._bm25.retrieve(
            tokens, k=min(k, self.size), show_progress=False, n_threads=1
        )
        keep = scores[0] > 0
        return ids[0][keep].astype(np.int64), scores[0][keep].astype(np.float32)
