"""The injection detector: the patterns (:mod:`rails.injection.patterns`) on every
de-obfuscated view of a message (:mod:`rails.normalize`), then the classifier
(:mod:`rails.injection.features`). Below the classifier's refusal threshold, a message scored
at least its ``caution`` threshold is not refused but is answered only from the FAQ's own
text: the small default model is not asked to write for a message that looks this much like
an attack (:attr:`Finding.block` is False).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

import rails.injection as _package
from rails.injection.features import LinearClassifier
from rails.injection.patterns import Finding, match_patterns
from rails.normalize import views

_TURN_BREAK = re.compile(r"[.?!\n'\"`]+")


class TextEncoder(Protocol):
    """What the classifier needs from :class:`ingest.embeddings.Embedder`."""

    def encode_query(self, text: str) -> npt.NDArray[np.float32]: ...

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]: ...


class InjectionDetector:
    def __init__(self, encoder: TextEncoder, classifier: LinearClassifier | None = None) -> None:
        self.encoder = encoder
        self.classifier = classifier or LinearClassifier.load()

    def score(self, texts: Sequence[str]) -> float:
        """The classifier's highest attack probability over ``texts``; the first is encoded as
        a query (cached: retrieval encodes the same message)."""
        vectors = [self.encoder.encode_query(texts[0])[None, :]]
        if len(texts) > 1:
            vectors.append(self.encoder.encode(list(texts[1:])))
        return float(self.classifier.probability(np.vstack(vectors), texts).max())

    def check(self, text: str) -> Finding | None:
        readings = views(text)
        found = match_patterns(readings)
        if found:
            return found
        score = self.score(readings)
        if score >= self.classifier.threshold:
            return Finding("injection_classifier", f"p={score:.2f}", score)
        caution = self.classifier.caution
        if caution is not None and score >= caution:
            return Finding("injection_caution", f"p={score:.2f}", score, block=False)
        return None

    def check_conversation(self, earlier: Sequence[str], message: str) -> Finding | None:
        """The recent user turns read as one text, so an attack split across messages is seen
        whole; None when there is no earlier turn to read with.

        The patterns read every view of the joined turns; the classifier reads their n-grams
        with the vector of this message (which the pipeline has embedded already). Embedding
        the joined turns as well cost a second model run on every later turn and stopped no
        validation attack more at the threshold it needed (a customer's ordinary turns read
        together drift towards the attack side); with the message's vector,
        ``CONVERSATION_THRESHOLD`` can sit lower and stops more. The threshold is read from
        :mod:`rails.injection` at each call, so a sweep that patches it there
        (``bench/rails_eval.py --conversation-thresholds``) moves it."""
        if not earlier:
            return None
        # One run of words: a payload split over messages must match as if sent at once.
        joined = _TURN_BREAK.sub(" ", " ".join([*earlier, message]))
        readings = views(joined)
        found = match_patterns(readings)
        if found:
            return Finding("conversation_injection_pattern", found.reason, found.score)
        vector = self.encoder.encode_query(message)
        vectors = np.repeat(vector[None, :], len(readings), axis=0)
        score = float(self.classifier.probability(vectors, readings).max())
        if score >= _package.CONVERSATION_THRESHOLD:
            return Finding("conversation_injection_classifier", f"p={score:.2f}", score)
        return None
