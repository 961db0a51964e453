"""PII masking: card numbers (Luhn-checked), IBANs (mod-97-checked), e-mail addresses, national
ids (UK National Insurance and US Social Security numbers), phone numbers and other long digit
runs (account numbers) are replaced by ``[CARD]``-style
placeholders before text is logged, stored or sent to the model.

Written by hand because the libraries made for this (Presidio, scrubadub) need spaCy models
that cannot be downloaded here; the patterns are few and each is tested.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
# UK National Insurance number and US Social Security number (dashed form).
_NATIONAL_ID = re.compile(
    r"\b[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b|\b\d{3}-\d{2}-\d{4}\b",
    re.IGNORECASE,
)
_PHONE = re.compile(r"(?<![\w+])(?:\+\d{1,3}|0)[\d ().-]{8,14}\d(?!\w)")
_ACCOUNT = re.compile(r"(?<![\w-])\d(?:[ -]?\d){7,}(?![\w-])")


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _iban_ok(candidate: str) -> bool:
    """ISO 13616 check digits (mod 97)."""
    s = candidate.replace(" ", "")
    rearranged = s[4:] + s[:4]
    number = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(number) % 97 == 1


@dataclass(frozen=True)
class Masked:
    text: str
    kinds: tuple[str, ...]
    """What was masked, e.g. ("card", "email"), in order of first appearance."""


# Applied in this order, each to the text the earlier ones left: a card number is not also
# an account number.
_RULES: list[tuple[str, re.Pattern[str], Callable[[str], bool]]] = [
    ("card", _CARD, lambda s: luhn_ok(re.sub(r"\D", "", s))),
    ("iban", _IBAN, _iban_ok),
    ("email", _EMAIL, lambda s: True),
    ("national_id", _NATIONAL_ID, lambda s: True),
    ("phone", _PHONE, lambda s: 10 <= len(re.sub(r"\D", "", s)) <= 13),
    ("account", _ACCOUNT, lambda s: True),
]


def _scan(text: str) -> tuple[str, list[tuple[str, str]]]:
    found: list[tuple[str, str]] = []
    for kind, pattern, check in _RULES:

        def replace(match: re.Match[str], kind: str = kind, check: Any = check) -> str:
            value = match.group(0)
            if not check(value):
                return value
            found.append((kind, value))
            return f"[{kind.upper()}]"

        text = pattern.sub(replace, text)
    return text, found


def find(text: str) -> list[tuple[str, str]]:
    """The (kind, value) pairs of PII in ``text``."""
    return _scan(text)[1]


def mask(text: str) -> Masked:
    masked, found = _scan(text)
    return Masked(masked, tuple(dict.fromkeys(kind for kind, _ in found)))
