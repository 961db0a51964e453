"""Hashed n-gram features of one text dotted with a weight vector, as sklearn's
``HashingVectorizer`` computes them.

The injection classifier scores one chat message per turn. For one text,
``HashingVectorizer.transform`` spends most of its time on input checks and building a sparse
matrix, several times what the dot product needs (``bench/rails_eval.py``). This module
computes the same l2-normalised counts with the vectorizer's own analyzer and sklearn's
murmurhash (remembering the columns of recent n-grams), so the features are identical (the
tests compare them with ``transform``); fitting still uses the vectorizer.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import numpy.typing as npt
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.utils import murmurhash3_32

_INT32_MIN = -(2**31)


class HashedNgrams:
    """``HashingVectorizer(..., alternate_sign=False, norm="l2").transform([text]) @ weights``
    for one text."""

    # Messages share most of their character n-grams: the column of each recent one is
    # remembered (a few MB at most) rather than hashed again.
    _REMEMBERED = 2**15

    def __init__(self, vectorizer: HashingVectorizer) -> None:
        if vectorizer.alternate_sign or vectorizer.norm != "l2" or vectorizer.binary:
            raise ValueError("only unsigned, l2-normalised counts are supported")
        self._analyze = vectorizer.build_analyzer()
        self._features = int(vectorizer.n_features)
        # Where sklearn puts the one hash whose absolute value does not fit an int32.
        self._min_index = (2**31 - 1 - (self._features - 1)) % self._features
        self._column = functools.lru_cache(maxsize=self._REMEMBERED)(self._hashed_column)

    def _hashed_column(self, gram: str) -> int:
        hashed = murmurhash3_32(gram, 0)
        return self._min_index if hashed == _INT32_MIN else abs(hashed) % self._features

    def dot(self, text: str, weights: npt.NDArray[np.float64]) -> float:
        counts: dict[int, int] = {}
        for gram in self._analyze(text):
            column = self._column(gram)
            counts[column] = counts.get(column, 0) + 1
        if not counts:
            return 0.0
        columns = np.fromiter(counts, dtype=np.intp, count=len(counts))
        values = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        return float(weights[columns] @ values / math.sqrt(values @ values))
