"""The injection classifier: a logistic regression over the MiniLM sentence embedding (the one
retrieval computes anyway, so the common case costs a cache hit) together with hashed character
and word n-grams, which carry what the English-only MiniLM misses: other languages' keywords,
the vocabulary of fraud.

The weights are an artifact of their own (``rails/exemplars/classifier.json`` and
``lexical.npz``, fitted by ``python bench/fit_rails.py``); the thresholds they are read with
live in ``rails/calibration.json`` with the rails' other thresholds.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import sparse
from sklearn.feature_extraction.text import HashingVectorizer

from rails.calibration import CALIBRATION_PATH, Calibration
from rails.hashing import HashedNgrams

CLASSIFIER_PATH = Path(__file__).resolve().parents[1] / "exemplars" / "classifier.json"
LEXICAL_PATH = CLASSIFIER_PATH.with_name("lexical.npz")
# Hashing keeps no vocabulary (only the weights are stored) and is stable across releases.
_HASHING = {"n_features": 2**20, "alternate_sign": False, "norm": "l2"}
_CHARS = HashingVectorizer(analyzer="char_wb", ngram_range=(3, 5), **_HASHING)
_WORDS = HashingVectorizer(analyzer="word", ngram_range=(1, 2), **_HASHING)
_BLOCK = 2**20
LEXICAL_FEATURES = 2 * _BLOCK


def lexical_features(texts: Sequence[str]) -> sparse.csr_matrix:
    """Hashed character 3-5-grams and word 1-2-grams of each text, each block l2-normalised."""
    return sparse.hstack([_CHARS.transform(texts), _WORDS.transform(texts)], format="csr")


_CHAR_NGRAMS = HashedNgrams(_CHARS)
_WORD_NGRAMS = HashedNgrams(_WORDS)


def _lexical_logits(
    texts: Sequence[str], weights: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """``lexical_features(texts) @ weights``, text by text (:mod:`rails.hashing`)."""
    chars, words = weights[:_BLOCK], weights[_BLOCK:]
    return np.array([_CHAR_NGRAMS.dot(t, chars) + _WORD_NGRAMS.dot(t, words) for t in texts])


@dataclass(frozen=True)
class LinearClassifier:
    """Logistic regression weights over a normalised sentence embedding and, when
    ``lexical`` is set, the hashed n-grams of :func:`lexical_features`."""

    coef: npt.NDArray[np.float32]
    intercept: float
    threshold: float
    meta: dict[str, Any]
    lexical: npt.NDArray[np.float64] | None = None
    caution: float | None = None
    """From here up to ``threshold`` a message is answered without the model; None: never."""

    @classmethod
    def load(
        cls,
        path: Path = CLASSIFIER_PATH,
        lexical_path: Path = LEXICAL_PATH,
        calibration_path: Path = CALIBRATION_PATH,
    ) -> LinearClassifier:
        """The weights, with the thresholds of ``calibration_path`` (its ``injection``)."""
        data = json.loads(path.read_text(encoding="utf-8"))
        # The threshold was chosen with the n-gram weights: without them it means nothing.
        if not lexical_path.is_file():
            raise FileNotFoundError(
                f"{lexical_path} is missing; it belongs with {path.name} "
                "(python bench/fit_rails.py)"
            )
        with np.load(lexical_path) as stored:
            lexical = np.zeros(LEXICAL_FEATURES, dtype=np.float64)
            lexical[stored["index"]] = stored["weight"]
        thresholds = Calibration.load(calibration_path).injection
        return cls(
            coef=np.asarray(data["coef"], dtype=np.float32),
            intercept=float(data["intercept"]),
            threshold=float(thresholds.threshold),
            meta=dict(data.get("meta", {})),
            lexical=lexical,
            caution=thresholds.caution,
        )

    def save(self, path: Path = CLASSIFIER_PATH, lexical_path: Path = LEXICAL_PATH) -> None:
        """The weights only: the fitting tool writes ``threshold`` and ``caution`` to the
        calibration file."""
        data = {
            "intercept": self.intercept,
            "meta": self.meta,
            "coef": [round(float(x), 6) for x in self.coef],
        }
        path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        if self.lexical is not None:
            # Only the n-grams seen in training have weights; the rest of the space is zero.
            index = np.flatnonzero(self.lexical).astype(np.int32)
            weight = self.lexical[index].astype(np.float32)
            np.savez_compressed(lexical_path, index=index, weight=weight)

    def probability(
        self, vectors: npt.NDArray[np.float32], texts: Sequence[str] | None = None
    ) -> npt.NDArray[np.float64]:
        """``texts``: what ``vectors`` embed, for the n-gram weights (ignored without them)."""
        logits = vectors.astype(np.float64) @ self.coef.astype(np.float64) + self.intercept
        if self.lexical is not None and texts is not None:
            logits += _lexical_logits(texts, self.lexical)
        probs: npt.NDArray[np.float64] = 1.0 / (1.0 + np.exp(-logits))
        return probs
