"""Alternations of words written so that Python's ``re`` searches them fast, with the same
matches as written plainly.

``re`` tries every alternative of a pattern at every position of the text, and with
IGNORECASE it cannot skip a position by the first character of a literal. The rails' word
lists (:mod:`rails.injection`, :mod:`rails.fraud`) hold regex pieces, which no word-list
library takes, so these few helpers rewrite them: shared first characters become a trie, a
lookahead on the possible first characters rules a position out at once, and one lookbehind
stands for the word boundary of all of them. Only the order in which matches are tried moves,
which no yes/no search sees (tests compare each rewritten pattern with its plain form).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

_META = set("\\.^$*+?{}[]|()")


def _depths(pattern: str) -> Iterator[tuple[int, str, int]]:
    """Each unescaped character of ``pattern`` with its index and the group depth after it."""
    depth, escaped = 0, False
    for at, char in enumerate(pattern):
        if escaped:
            escaped = False
            continue
        escaped = char == "\\"
        depth += {"(": 1, ")": -1}.get(char, 0)
        yield at, char, depth


def split(alternatives: str) -> list[str]:
    """The top-level ``|``-separated words of an alternation."""
    words, start = [], 0
    for at, char, depth in _depths(alternatives):
        if char == "|" and depth == 0:
            words.append(alternatives[start:at])
            start = at + 1
    words.append(alternatives[start:])
    return words


def _group_end(word: str) -> int:
    """Where the group that opens ``word`` closes."""
    for at, _, depth in _depths(word):
        if depth == 0:
            return at
    raise ValueError(f"unbalanced group in {word!r}")


def unfold(word: str) -> list[str]:
    """``word`` without a group at its head, the same matches for a search: "(al )?principio"
    becomes "principio" (an optional head that ends in a space only widens a match that the
    rest makes anyway), "(encima|antes) de" becomes "encima de" and "antes de". Only words
    that start with a plain character share it in :func:`factor`."""
    if word.startswith("(?:"):
        opened = 3
    elif word.startswith("(") and not word.startswith("(?"):
        opened = 1
    else:
        return [word]
    end = _group_end(word)
    options, rest = split(word[opened:end]), word[end + 1 :]
    if rest.startswith("?"):
        if rest[1:2] not in ("?", "+") and all(option.endswith(" ") for option in options):
            return unfold(rest[1:])
        return [word]
    if rest[:1] in ("*", "+", "{"):
        return [word]
    return [unfolded for option in options for unfolded in unfold(option + rest)]


def factor(words: list[str]) -> str:
    """``"|".join(words)``, the same language, written as a trie: alternatives that start with
    the same plain character share it, and a lookahead on the possible first characters rules
    out a position at once (written flat, the multilingual pattern took 1.7x as long)."""
    heads: dict[str, list[str]] = {}
    for word in words:
        plain = bool(word) and word[0] not in _META and word[1:2] not in ("?", "*", "+", "{")
        heads.setdefault(word[0] if plain else "", []).append(word[1:] if plain else word)
    parts = heads.pop("", [])
    for head, tails in heads.items():
        parts.append(head + tails[0] if len(tails) == 1 else f"{head}(?:{factor(tails)})")
    if len(heads) > 1 and not parts[: -len(heads)]:
        first = "".join(re.escape(head) for head in heads)
        return f"(?=[{first}])(?:{'|'.join(parts)})"
    return "|".join(parts)


def any_word(alternatives: str) -> str:
    """One alternation of the top-level ``|``-separated words; words in scripts that separate
    words with spaces (below U+0600: Latin, Greek, Cyrillic...) must stand alone, so "glem"
    (Danish: forget) does not fire inside "problem"."""
    words = [unfolded for word in split(alternatives) for unfolded in unfold(word)]
    spaced = [word for word in words if all(ord(ch) < 0x600 for ch in word)]
    # One pair of word boundaries around all of them: inside a word the lookbehind fails once
    # instead of once per word.
    parts = [rf"(?<!\w)(?:{factor(spaced)})(?!\w)"] if spaced else []
    rest = [word for word in words if word not in spaced]
    if rest:
        parts.append(f"(?:{factor(rest)})")
    return "(?:" + "|".join(parts) + ")"


def at_word_start(pattern: str) -> str:
    r"""``pattern`` with its alternatives that start with ``\b`` and a letter (after
    :func:`unfold`) as one trie behind one lookbehind (``\b`` before a letter is
    ``(?<!\w)``); other alternatives are kept as they are."""
    words, others = [], []
    for alternative in split(pattern):
        for word in unfold(alternative):
            if not word.startswith(r"\b"):
                others.append(word)
                continue
            for bounded in unfold(word[2:]):
                if bounded[:1].isalpha():
                    words.append(bounded)
                else:
                    others.append(rf"\b{bounded}")
    return "|".join(([rf"(?<!\w)(?:{factor(words)})"] if words else []) + others)
