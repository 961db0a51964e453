"""Jailbreak and prompt-injection detection on user messages (the input rail) and on the
recent user turns read together (the conversation-level rail).

- :mod:`rails.injection.patterns`: the pattern table, built from the word lists of
  ``rails/vocabulary/injection.yaml``;
- :mod:`rails.injection.features`: the hashed n-grams and the classifier's weights;
- :mod:`rails.injection.detector`: both on every de-obfuscated view of a message.

The thresholds come from ``rails/calibration.json`` (:mod:`rails.calibration`). The names
importers use are re-exported here.
"""

from __future__ import annotations

from rails.calibration import CALIBRATION
from rails.injection.detector import InjectionDetector, TextEncoder
from rails.injection.features import (
    CLASSIFIER_PATH,
    LEXICAL_FEATURES,
    LEXICAL_PATH,
    LinearClassifier,
    lexical_features,
)
from rails.injection.patterns import (
    EXEMPT,
    MULTILINGUAL,
    PATTERNS,
    VOCABULARY_PATH,
    Finding,
    match_patterns,
)

CONVERSATION_THRESHOLD = CALIBRATION.injection.conversation
"""The classifier's threshold on the recent turns read together (``check_conversation``)."""

__all__ = [
    "CLASSIFIER_PATH",
    "CONVERSATION_THRESHOLD",
    "EXEMPT",
    "LEXICAL_FEATURES",
    "LEXICAL_PATH",
    "MULTILINGUAL",
    "PATTERNS",
    "VOCABULARY_PATH",
    "Finding",
    "InjectionDetector",
    "LinearClassifier",
    "TextEncoder",
    "lexical_features",
    "match_patterns",
]
