"""The injection rail's patterns: instruction overrides, system-prompt extraction, role-play
jailbreaks, fake chat-template markup, exfiltration markup, payload splitting and fraud, in
English and, from the word lists of ``rails/vocabulary/injection.yaml``, the languages
attackers use most. They are precise and cost microseconds.

The vocabulary is data (a translator can extend a list without reading regex composition);
this module holds the grammar: which lists combine, in which order, how far apart. Every
pattern is written once, in its final form, and compiled at import.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from rails.alternation import any_word, at_word_start
from rails.fraud import EXEMPT as FRAUD_EXEMPT
from rails.fraud import PATTERNS as FRAUD

VOCABULARY_PATH = Path(__file__).resolve().parents[1] / "vocabulary" / "injection.yaml"
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@cache
def vocabulary(path: Path = VOCABULARY_PATH) -> dict[str, list[str]]:
    """The word lists by name, and ``override_phrases``: regex pieces, in the order tried."""
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)  # noqa: S506 (safe loader)
    lists: dict[str, list[str]] = {name: list(words) for name, words in data["lists"].items()}
    lists["override_phrases"] = list(data["override_phrases"])
    return lists


_VOCABULARY = vocabulary()


def _alternation(name: str) -> str:
    return "|".join(_VOCABULARY[name])


_LISTS = [
    _alternation(name)
    for name in (
        "override_verbs", "instruction_nouns", "unrestricted", "dev_mode", "system_prompt", "ai",
        "hidden", "secret", "told_more", "system_message", "preceding", "verbatim", "text",
    )
]  # fmt: skip
"""Every word list the multilingual patterns start with, for the lookahead in front of
:data:`MULTILINGUAL`."""

(
    _OVERRIDE_VERBS, _INSTRUCTION_NOUNS, _UNRESTRICTED, _DEV_MODE, _SYSTEM_PROMPT, _AI, _HIDDEN,
    _SECRET, _TOLD_MORE, _SYSTEM_MESSAGE, _PRECEDING, _VERBATIM, _TEXT,
) = (any_word(alternatives) for alternatives in _LISTS)  # fmt: skip

_TOLD = f"(?:{_INSTRUCTION_NOUNS}|{_TOLD_MORE})"
# Each list heads one alternative, which holds every phrase that starts with it: Python's
# ``re`` tries every alternative at every position, so a list searched twice costs twice (the
# same matches as one alternative per phrase, at half the time).
_EXTRACTION = (
    f"{_TOLD}(?:.{{0,12}}?{_HIDDEN}|\\s?{_SECRET}|.{{0,60}}?{_VERBATIM}|.{{0,80}}?{_PRECEDING})|"
    f"{_VERBATIM}(?:.{{0,60}}?{_TOLD}|.{{0,80}}?{_PRECEDING})|{_TEXT}.{{0,80}}?{_PRECEDING}|"
    f"{_PRECEDING}.{{0,80}}?(?:{_VERBATIM}|{_TOLD}|{_TEXT})|{_HIDDEN}.{{0,12}}?{_TOLD}|"
    f"{_SECRET}\\s?{_TOLD}|{_SYSTEM_MESSAGE}"
)
_ELSEWHERE = ".{0,40}?"
# Not a customer's own payment instructions: "ignore the previous instructions I gave about the
# transfer", "disregard any previous instructions about my direct debit".
_NOT_PAYMENT = (
    r"(?! (i|we) (gave|sent|left|made)\b| (about|for|on) (my|the|this|that) (transfer|payment|"
    r"direct debit|standing order)\b)"
)
_MULTILINGUAL = (
    f"{_OVERRIDE_VERBS}{_ELSEWHERE}{_INSTRUCTION_NOUNS}{_NOT_PAYMENT}|{_INSTRUCTION_NOUNS}{_ELSEWHERE}"
    f"{_OVERRIDE_VERBS}|{_AI}{_ELSEWHERE}{_UNRESTRICTED}|{_UNRESTRICTED}{_ELSEWHERE}{_AI}|"
    f"{_DEV_MODE}|{_SYSTEM_PROMPT}|{_EXTRACTION}"
)
# Every alternative starts with a word of one of the lists, so one lookahead on all of them
# (one trie) rules out a position before each list is tried there in turn: the same matches,
# and a message without any of the words is ruled out at once.
MULTILINGUAL = f"(?={any_word('|'.join(_LISTS))})(?:{_MULTILINGUAL})"
# The fixed phrases, tried before the lists ({not_payment}: the exemption above).
_OVERRIDE_PHRASES = _alternation("override_phrases").replace("{not_payment}", _NOT_PAYMENT)


_W = r"[^.?!\n]{0,40}?"  # a short stretch of words within one sentence
_PATTERNS: dict[str, str] = {
    "override": (
        r"\b(ignore|disregard|forget|override|bypass|overrule|abandon|drop|skip)\b"
        + _W
        + r"\b(previous|prior|above|earlier|preceding|all|any|your|these|those|system|initial|"
        r"original|safety|existing|current)\b"
        + _W
        + r"\b(instructions?|rules|prompts?|guidelines|directives?|restrictions|programming|"
        r"guardrails?|policies|constraints|filters|training|commands)\b" + _NOT_PAYMENT
    ),
    "new_instructions": (
        r"\b(new|updated|revised|real|true|actual)\s+(system\s+)?(instructions|rules|directives|"
        r"prompt|orders)\s*(:|are\b|follow)"
    ),
    "role_switch": (
        r"\byou are (now(?! (my|our|the|a|an) )|no longer|free|not bound|released)\b|"
        r"\bfrom now on,? you\b|\b(stay|remain|break) (in|out of) character\b|\bdo anything now\b|"
        r"\bdeveloper mode (enabled|activated|on)\b|\b(enable|enter|activate) developer mode\b|"
        r"\bjail ?br(eak|oken)\b(?! (phone|device|iphone|android|ipad|mobile))|"
        r"\byou are (now )?(unrestricted|unfiltered|jailbroken|free of)\b|"
        r"\b(rules|restrictions|guidelines|policies|filters)\b[^.]{0,25}\bno longer apply\b|"
        r"\b(turn|switch|shut) off (your|the|all) (safety|security|content)? ?(checks|filters|"
        r"rules)\b(?! (on|for) (my|the) (card|account|app)\b)|"
        r"\b(safety|security) (checks|filters|rules) (are )?(now )?(off|disabled)\b|"
        r"\b(unfiltered|uncensored|unrestricted|unaligned) (ai|mode|model|"
        r"assistant|version|bot)\b|"
        # "no restrictions on withdrawals" is a banking question, not a role switch
        r"\b(without|no) (any )?((restrictions|filters|limitations)(?! (on|for|to|of|in|at|when|"
        r"if)\b)|censorship|guardrails|ethical guidelines)\b|"
        # DAN in capitals only: a name like "Dan" must not count.
        r"\b(?-i:DAN)\b(?=.{0,80}\b(mode|prompt|act|answer|respond|persona|character)\b)"
    ),
    "prompt_extraction": (
        r"\b(reveal|print|show|display|repeat|output|leak|dump|recite|spell out|write out|"
        r"tell me|give me|share|what (is|are|were))\b"
        + _W
        + r"\b(system|initial|hidden|original|secret|internal|developer|pre-?|meta ?)[ -]?"
        r"(prompt|instructions|message|rules|directives|configuration)\b|"
        r"\b(text|words|everything|instructions) (above|before) (this|my)\b|\bcanary\b"
    ),
    "template_markup": (
        r"<\|(im_start|im_end|system|endoftext|assistant)\|>|\[/?INST\]|<<\s*/?SYS\s*>>|"
        r"</?\s*(system|instructions)\s*>|(^|\n)\s*#*\s*\[?(system|developer)\]?\s*(:|\])"
    ),
    "exfiltration_markup": (
        r"!\[[^\]]*\]\(\s*https?://|<\s*(img|script|iframe|svg)\b|javascript:|\bon(error|load)\s*=|"
        r"\b(image|img|picture|pixel)\b[^.]{0,40}\b(url|link|src)\b"
    ),
    # Pieces to be glued back together: a='ign', b='ore'; "adm", "in", "pass".
    "payload_splitting": (
        r"([\"'][^\"']{1,12}[\"']\s*[,+]\s*){2,}[\"']|\b[a-z]\d?\s*=\s*[\"'][^\"']*[\"']\s*[,;]?\s*"
        r"\b[a-z]\d?\s*=\s*[\"']|\b(concatenate|assemble|put together|glue)\b[^.]{0,30}\b(it|them|"
        r"these|the (parts|pieces|strings|words|fragments))\b"
    ),
    **FRAUD,
    "multilingual_override": _OVERRIDE_PHRASES + "|" + MULTILINGUAL,
}
PATTERNS = {
    name: re.compile(at_word_start(pattern), re.IGNORECASE | re.DOTALL)
    for name, pattern in _PATTERNS.items()
}
EXEMPT = {name: re.compile(pattern, re.IGNORECASE) for name, pattern in FRAUD_EXEMPT.items()}


@dataclass(frozen=True)
class Finding:
    rail: str
    """``injection_pattern``, ``injection_classifier`` or ``injection_caution``."""
    reason: str
    """The pattern's name, or the classifier's probability."""
    score: float
    block: bool = True
    """False for ``injection_caution``: answer from the FAQ's text only, without the model."""


def match_patterns(texts: Sequence[str]) -> Finding | None:
    for text in texts:
        for name, pattern in PATTERNS.items():
            if pattern.search(text) and not (name in EXEMPT and EXEMPT[name].search(text)):
                return Finding("injection_pattern", name, 1.0)
    return None
