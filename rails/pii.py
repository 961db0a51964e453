"""PII masking: card numbers (Luhn-checked), IBANs (mod-97-checked), e-mail addresses, phone
numbers and other long digit runs (account numbers) are replaced by ``[CARD]``-style
placeholders before text is logged, stored or sent to the model.

Written by hand because the libraries made for this (Presidio, scrubadub) need spaCy models
that cannot be downloaded here; the patterns are few and each is tested.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
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


def mask(text: str) -> Masked:
    kinds: list[str] = []

    def sub(pattern: re.Pattern[str], kind: str, value: str, check: object = None) -> str:
        def replace(match: re.Match[str]) -> str:
            found = match.group(0)
            if callable(check) and not check(found):
                return found
            if kind not in kinds:
                kinds.append(kind)
            return f"[{kind.upper()}]"

        return pattern.sub(replace, value)

    text = sub(_CARD, "card", text, lambda s: luhn_ok(re.sub(r"\D", "", s)))
    text = sub(_IBAN, "iban", text, _iban_ok)
    text = sub(_EMAIL, "email", text)
    text = sub(_PHONE, "phone", text, lambda s: 10 <= len(re.sub(r"\D", "", s)) <= 13)
    text = sub(_ACCOUNT, "account", text)
    return Masked(text, tuple(kinds))
