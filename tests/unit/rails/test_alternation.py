from __future__ import annotations

import random
import re

import pytest

from rails.alternation import any_word, at_word_start, factor, unfold

_FLAGS = re.IGNORECASE | re.DOTALL

# Word lists, as rails.injection writes them, and texts that probe where they differ.
_ALTERNATIVES = [
    "ignora|ignore[rz]?|ignoriere?n?|ignoruj|ignoră|forget|for|fo|f|olvida|olvídate",
    "tekst\\w*|text|texte|testo|te|(?-i:AI)|ia|bot|robot|(al )?inicio|a{2}b|ab+c|x",
    "指令|指示|规则|規則|忘记|忘記|忘れて|무시|잊어|bỏ qua|quên|-x|a-b|a\\.b|a.b",
]


def _probes(pieces: list[str], rng: random.Random, count: int = 3000) -> list[str]:
    letters = [*sorted({ch for piece in pieces for ch in piece if ch.isalpha()}), " ", ".", "-"]
    texts = [*pieces, *(w.upper() for w in pieces), *(w[:-1] for w in pieces), ""]
    texts += ["".join(rng.choices(letters, k=rng.randint(1, 12))) for _ in range(count)]
    return texts


@pytest.mark.parametrize("alternatives", _ALTERNATIVES)
def test_factored_alternations_match_what_the_plain_ones_match(alternatives: str) -> None:
    words = alternatives.split("|")
    words = [w for w in words if w]
    plain = re.compile("|".join(words), _FLAGS)
    factored = re.compile(factor(words), _FLAGS)
    assert factored.pattern != plain.pattern
    for text in _probes(words, random.Random(7)):
        for start in range(len(text) + 1):
            assert bool(plain.match(text, start)) == bool(factored.match(text, start)), text


@pytest.mark.parametrize(
    ("word", "unfolded"),
    [
        ("(al )?principio", ["principio"]),
        ("(?:my |his )?late", ["late"]),
        ("(encima|antes) de", ["encima de", "antes de"]),
        ("(?:a|b(?:c|d))e", ["ae", "b(?:c|d)e"]),
        ("(?:my )?(?:ex|mum)'s", ["ex's", "mum's"]),
        # Kept: a head that is not optional as a whole, repeated, or a lookaround.
        ("(?:a|b)?c", ["(?:a|b)?c"]),
        ("(a )??b", ["(a )??b"]),
        ("(ab)+c", ["(ab)+c"]),
        ("(?=x)y", ["(?=x)y"]),
        ("(?<!\\w)y", ["(?<!\\w)y"]),
        ("plain", ["plain"]),
    ],
)
def test_unfold_takes_the_group_off_a_word_head(word: str, unfolded: list[str]) -> None:
    assert unfold(word) == unfolded


def test_any_word_keeps_words_apart_from_longer_words() -> None:
    pattern = re.compile(any_word("glem|(al )?principio|忘记"), _FLAGS)
    for text in ("Glem alt", "al principio de", "忘记吧"):
        assert pattern.search(text), text
    assert not pattern.search("a problem") and not pattern.search("principios")


# Patterns shaped like rails.fraud's: alternatives that start with \b, groups at their heads.
_BOUNDED = [
    r"\b(?:my |a )?(?:ex|mum|nan)'s (?:card|pin)\b|\bfound (?:a|an) (?:\w+ )?card|\bx\d",
    r"\b(?:and|i) (?:pretend(?:ing)?|pose) as (?:him|her)\b|^fake \w+|\b\d{2} ab|\b(?-i:AB)c",
    r"(?:\b(?:his|her) (?:card|pin)\b|\bmy ex's pin)[^.]{0,9}?\b(?:without|before) (?:him|her)",
]


@pytest.mark.parametrize("pattern", _BOUNDED)
def test_patterns_at_word_start_match_what_the_plain_ones_match(pattern: str) -> None:
    plain = re.compile(pattern, _FLAGS)
    rewritten = re.compile(at_word_start(pattern), _FLAGS)
    assert rewritten.pattern != plain.pattern
    pieces = re.findall(r"[a-z']+|\d+", pattern.replace(r"\b", " ").replace(r"\w", " "))
    rng = random.Random(11)
    texts = _probes(pieces, rng, count=500)
    for _ in range(4000):
        # Pieces in the pattern's order, some left out, others in between, glued or spaced.
        kept = [piece for piece in pieces if rng.random() < 0.6]
        kept += rng.choices([*pieces, "x1", "12", ".", "n"], k=rng.randint(0, 2))
        if rng.random() < 0.3:
            rng.shuffle(kept)
        texts.append(rng.choice([" ", "", " ", "-"]).join(kept))
    found = [bool(plain.search(text)) for text in texts]
    assert 50 < sum(found) < len(texts) - 50  # the probes hit both sides
    for text, hit in zip(texts, found, strict=True):
        assert hit == bool(rewritten.search(text)), text
