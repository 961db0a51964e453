"""Groundedness of an answer: every sentence must be supported by the retrieved chunks.

A sentence is supported when each number in it (amounts, fees, phone numbers, days) appears
in the chunks, and its content words are found there (stemmed word recall at or above
``lexical``) or it means the same as one of their sentences (MiniLM cosine at or above
``semantic``; computed only for sentences the word check leaves in doubt, so most answers cost
no embedding). Courtesy sentences ("Let me know if you need anything else.") carry no claim and
pass. The thresholds are calibrated on ``bench/data/rails/grounding-validation.jsonl`` by
``bench/rails_eval.py --calibrate``. No NLI model is used: no PyPI package here carries one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import Stemmer
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from rails.injection import TextEncoder

_SENTENCE = re.compile(r"\s*\n+\s*(?:[-*•]\s*|\d+[.)]\s+)?|(?<=[.!?])\s+")
_WORD = re.compile(r"[a-z][a-z']+")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_DIGIT_GAP = re.compile(r"(?<=\d)[ ,](?=\d{3}\b)|(?<=\d) (?=\d)")
_NUMBER_WORDS = {
    "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7",
    "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12", "thirty": "30",
    "fourteen": "14", "twenty": "20", "hundred": "100",
}  # fmt: skip
_NUMBER_WORD = re.compile(rf"\b({'|'.join(_NUMBER_WORDS)})\b")
# Words of chat courtesy: a sentence made only of these (and stop words) makes no claim.
_COURTESY = frozenset(
    [
        "help",
        "helps",
        "happy",
        "glad",
        "anything",
        "else",
        "let",
        "know",
        "sure",
        "thank",
        "thanks",
        "welcome",
        "question",
        "questions",
        "hope",
        "assist",
        "assistance",
        "today",
        "need",
        "feel",
        "free",
        "ask",
        "great",
        "day",
        "certainly",
        "course",
        "answer",
        "contact",
        "us",
        "team",
        "support",
        "member",
        "staff",
        "connect",
    ]
)
_STEMMER = Stemmer.Stemmer("english")
_COURTESY_STEMS = frozenset(_STEMMER.stemWords(sorted(_COURTESY)))


@dataclass(frozen=True)
class Thresholds:
    # Chosen on the validation split (bench/rails_eval.py --calibrate): 84 % of ungrounded
    # answers caught for 6 % of grounded ones blocked.
    lexical: float = 0.5
    semantic: float = 0.7
    doubt: float = 0.3
    """Below this word recall a sentence is unsupported without asking the embedding."""
    max_missing: int = 3
    """More content words than this that the chunks never use make a sentence unsupported,
    whatever its recall (an invented product or place)."""


@dataclass(frozen=True)
class SentenceCheck:
    text: str
    supported: bool
    lexical: float
    semantic: float | None
    missing_numbers: tuple[str, ...]


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text) if s and s.strip()]


@lru_cache(maxsize=4096)
def _stem(word: str) -> str:
    return str(_STEMMER.stemWord(word))


def _content(text: str) -> set[str]:
    words = _WORD.findall(text.lower())
    return {_stem(w) for w in words if w not in ENGLISH_STOP_WORDS}


def numbers(text: str) -> set[str]:
    text = _DIGIT_GAP.sub("", text.lower())
    found = set(_NUMBER.findall(text))
    found |= {_NUMBER_WORDS[word] for word in _NUMBER_WORD.findall(text)}
    return found


def check(
    answer: str,
    chunks: Sequence[str],
    encoder: TextEncoder | None = None,
    thresholds: Thresholds | None = None,
    question: str = "",
) -> list[SentenceCheck]:
    """One verdict per sentence of ``answer``; with no ``encoder`` the word check decides.
    ``question``: the user's message, whose own words the answer may not assert unless the
    chunks use them too."""
    thresholds = thresholds or Thresholds()
    context = "\n".join(chunks)
    context_words = _content(context)
    context_numbers = numbers(context)
    # A small model's usual way of inventing policy is to restate the question as fact ("You
    # can bounce cheques for quick cash at any branch"): the words it takes from the question
    # and the chunks lack make the sentence unsupported, unless the embedding vouches for it.
    premise = _content(question) - context_words
    out: list[SentenceCheck] = []
    doubtful: list[int] = []
    for sentence in sentences(answer):
        words = _content(sentence)
        missing = tuple(sorted(numbers(sentence) - context_numbers))
        claims = words - _COURTESY_STEMS
        lexical = len(words & context_words) / len(words) if words else 1.0
        unknown = len(claims - context_words)
        supported = (
            not missing
            and not (claims & premise)
            and (
                len(claims) <= 1
                or (lexical >= thresholds.lexical and unknown <= thresholds.max_missing)
            )
        )
        out.append(SentenceCheck(sentence, supported, round(lexical, 3), None, missing))
        if not supported and not missing and lexical >= thresholds.doubt:
            doubtful.append(len(out) - 1)
    if doubtful and encoder is not None:
        candidates = sentences(context)
        if candidates:
            asked = encoder.encode([out[i].text for i in doubtful])
            known = encoder.encode(candidates)
            best = (asked @ known.T).max(axis=1)
            for i, score in zip(doubtful, best.tolist(), strict=True):
                row = out[i]
                out[i] = SentenceCheck(
                    row.text,
                    score >= thresholds.semantic,
                    row.lexical,
                    round(float(score), 3),
                    row.missing_numbers,
                )
    return out


def grounded(checks: Sequence[SentenceCheck]) -> bool:
    return all(c.supported for c in checks)
