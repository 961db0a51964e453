"""Claim-level groundedness: every sentence of an answer must be supported by ONE retrieved
chunk.

A chunk supports a sentence when it carries each number of the sentence (amounts, rates,
fees, phone numbers, durations), each name the sentence gives (a capitalised word inside the
sentence: a product, a place, a scheme), and its content words (stemmed word recall at or
above ``lexical``, at most ``max_missing`` claim words it never uses), or when it means the
same as one of the chunk's sentences (MiniLM cosine at or above ``semantic``; computed only for
sentences the word check leaves in doubt, so most answers cost no embedding). Support is
judged chunk by chunk: a sentence stitched from the words of several chunks ("The interest rate
on a personal loan is 6 %", with the 6 % from an entry about bonds) is supported by none of
them. Words that only the customer's question supplies never count as support. Courtesy
sentences ("Let me know if you need anything else.") carry no claim and pass.

The thresholds are calibrated on ``bench/data/rails/grounding-validation.jsonl`` by
``bench/rails_eval.py --calibrate``; ``bench/answers.py`` measures the rail on labelled
sentences the embedded engine wrote about an external FAQ. No NLI model is used: no PyPI
package here carries one.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import Stemmer
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from rails.calibration import CALIBRATION
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
# A capitalised word that does not open the sentence: a product, scheme or place name.
_NAME = re.compile(r"(?<=[\w,;:()] )([A-Z][A-Za-z0-9'-]*[A-Za-z0-9])")
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
_CALIBRATED = CALIBRATION.grounding


@dataclass(frozen=True)
class Thresholds:
    """Defaults from ``rails/calibration.json`` (``grounding``): lexical, doubt and max_missing
    were chosen on bench/data/rails/grounding-validation.jsonl (bench/rails_eval.py
    --calibrate); semantic and extractive on the calibration half of the hand-labelled engine
    sentences (bench/answers.py --calibrate --claims), where a lower cosine vouched for many a
    sentence that says something else."""

    lexical: float = _CALIBRATED.lexical
    semantic: float = _CALIBRATED.semantic
    doubt: float = _CALIBRATED.doubt
    """Below this word recall a sentence is unsupported without asking the embedding."""
    max_missing: int = _CALIBRATED.max_missing
    """More content words than this that the chunk never uses make a sentence unsupported,
    whatever its recall (an invented product or place)."""
    extractive: float = _CALIBRATED.extractive
    """Share of the sentence's word pairs (stop words included) that the chunk must contain
    for the word check to pass it: the same words in another order or with a "not" added
    ("charge-free at all stations" from "charges are levied at stations") say something
    else. Chosen on half of the hand-labelled engine sentences (``bench/answers.py``)."""


@dataclass(frozen=True)
class SentenceCheck:
    text: str
    supported: bool
    lexical: float
    semantic: float | None
    missing_numbers: tuple[str, ...]
    support: int | None = None
    """The chunk (by position) that supports the sentence; None when none does."""


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text) if s and s.strip()]


@lru_cache(maxsize=4096)
def _stem(word: str) -> str:
    return str(_STEMMER.stemWord(word))


_TOKEN = re.compile(r"[a-z0-9]+")
# A yes/no answer asserts the question it answers ("Yes, we do." to "can I buy bitcoin?").
_POLAR = re.compile(r"^\W*(?:a:\s*)?(?:yes|no)\b", re.IGNORECASE)


def pairs(text: str) -> frozenset[tuple[str, str]]:
    """Adjacent word pairs of ``text``, lower-cased, stop words kept."""
    words = _TOKEN.findall(text.lower())
    return frozenset(itertools.pairwise(words))


def _content(text: str) -> set[str]:
    words = _WORD.findall(text.lower())
    return {_stem(w) for w in words if w not in ENGLISH_STOP_WORDS}


def numbers(text: str) -> set[str]:
    text = _DIGIT_GAP.sub("", text.lower())
    found = set(_NUMBER.findall(text))
    found |= {_NUMBER_WORDS[word] for word in _NUMBER_WORD.findall(text)}
    return found


def names(text: str) -> set[str]:
    """Capitalised words inside ``text`` that are not stop or courtesy words, lower-cased."""
    found = {m.lower() for m in _NAME.findall(text)}
    return {n for n in found if n not in ENGLISH_STOP_WORDS and _stem(n) not in _COURTESY_STEMS}


@dataclass(frozen=True)
class _Evidence:
    words: frozenset[str]
    numbers: frozenset[str]
    text: str
    pairs: frozenset[tuple[str, str]]

    @classmethod
    def of(cls, chunk: str) -> _Evidence:
        return cls(
            frozenset(_content(chunk)), frozenset(numbers(chunk)), chunk.lower(), pairs(chunk)
        )


def check(
    answer: str,
    chunks: Sequence[str],
    encoder: TextEncoder | None = None,
    thresholds: Thresholds | None = None,
    question: str = "",
) -> list[SentenceCheck]:
    """One verdict per sentence of ``answer``; with no ``encoder`` the word check decides.
    ``question``: the user's message, whose own words the answer may not assert unless the
    supporting chunk uses them too."""
    thresholds = thresholds or Thresholds()
    evidence = [_Evidence.of(c) for c in chunks]
    asked = _content(question)
    out: list[SentenceCheck] = []
    doubtful: list[tuple[int, list[int]]] = []
    for sentence in sentences(answer):
        words = _content(sentence)
        if _POLAR.match(sentence):
            words |= asked  # what it says yes or no to must be in the chunk too
        claims = words - _COURTESY_STEMS
        found_numbers = numbers(sentence)
        given_names = names(sentence)
        said = pairs(sentence)
        if not claims and not found_numbers and not given_names:
            out.append(SentenceCheck(sentence, True, 1.0, None, ()))  # courtesy: no claim
            continue
        best: tuple[float, int] | None = None
        in_doubt: list[int] = []
        # The best recall and the numbers its chunk lacks, for the report.
        closest: tuple[float, tuple[str, ...]] = (0.0, tuple(sorted(found_numbers)))
        for j, ev in enumerate(evidence):
            lacking = tuple(sorted(found_numbers - ev.numbers))
            lexical = len(words & ev.words) / len(words) if words else 1.0
            if lexical > closest[0] or j == 0:
                closest = (lexical, lacking)
            if lacking or any(name not in ev.text for name in given_names):
                continue
            # A small model's usual way of inventing policy is to restate the question as
            # fact ("You can bounce cheques for quick cash at any branch"): words the question
            # supplies and this chunk lacks make the sentence unsupported by it.
            premise = asked - ev.words
            unknown = len(claims - ev.words)
            copied = len(said & ev.pairs) / len(said) if said else 1.0
            if not (claims & premise) and (
                len(claims) <= 1
                or (
                    lexical >= thresholds.lexical
                    and unknown <= thresholds.max_missing
                    and copied >= thresholds.extractive
                )
            ):
                if best is None or lexical > best[0]:
                    best = (lexical, j)
            elif lexical >= thresholds.doubt:
                in_doubt.append(j)
        if best is not None:
            out.append(SentenceCheck(sentence, True, round(best[0], 3), None, (), best[1]))
            continue
        out.append(SentenceCheck(sentence, False, round(closest[0], 3), None, closest[1]))
        if in_doubt:
            doubtful.append((len(out) - 1, in_doubt))
    if doubtful and encoder is not None:
        _semantic(out, doubtful, chunks, encoder, thresholds)
    return out


def _semantic(
    out: list[SentenceCheck],
    doubtful: list[tuple[int, list[int]]],
    chunks: Sequence[str],
    encoder: TextEncoder,
    thresholds: Thresholds,
) -> None:
    """Settles the doubtful sentences by meaning: the closest sentence of the chunks each
    could be supported by."""
    wanted = sorted({j for _, js in doubtful for j in js})
    candidates = [(j, s) for j in wanted for s in sentences(chunks[j])]
    if not candidates:
        return
    asked = encoder.encode([out[i].text for i, _ in doubtful])
    known = encoder.encode([s for _, s in candidates])
    scores = asked @ known.T
    owner = [j for j, _ in candidates]
    for row, (i, js) in enumerate(doubtful):
        allowed = [k for k, j in enumerate(owner) if j in js]
        k = max(allowed, key=lambda k: float(scores[row, k]))
        score = float(scores[row, k])
        prev = out[i]
        ok = score >= thresholds.semantic
        out[i] = SentenceCheck(
            prev.text, ok, prev.lexical, round(score, 3), prev.missing_numbers,
            owner[k] if ok else None,
        )  # fmt: skip


def support(checks: Sequence[SentenceCheck]) -> list[int]:
    """The supporting chunks of the sentences, in order of first use."""
    return list(dict.fromkeys(c.support for c in checks if c.support is not None))


def grounded(checks: Sequence[SentenceCheck]) -> bool:
    return all(c.supported for c in checks)
