"""Checks on a finished answer (the output rail). The model's text is untrusted: it must not
carry markup a page could run or an image link that leaks data, must not repeat the system
prompt, its canary or a secret, must not reveal personal data the FAQ does not contain, and
must say only what the retrieved chunks support (:mod:`rails.grounding`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from rails import grounding, pii
from rails.injection import TextEncoder

_ACTIVE_MARKUP = re.compile(
    r"<\s*(script|iframe|object|embed|img|svg|style|link|meta|form|input)\b|javascript:|"
    r"data:text/html|\bon\w+\s*=",
    re.IGNORECASE,
)
_MARKDOWN_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_SECRET = re.compile(
    r"\b(sk|pk|rk)[-_][A-Za-z0-9_-]{16,}|\bAKIA[0-9A-Z]{16}\b|-----BEGIN [A-Z ]*PRIVATE KEY|"
    r"\b(api[_-]?key|secret|password|token)\s*[:=]\s*\S{8,}|\bBearer\s+[A-Za-z0-9._-]{16,}",
    re.IGNORECASE,
)
_SHINGLE = 8  # words in a row shared with the system prompt that count as a leak


@dataclass(frozen=True)
class Policy:
    """What the output rail knows about this deployment."""

    system_prompt: str = ""
    canary: str = ""
    secrets: tuple[str, ...] = ()
    thresholds: grounding.Thresholds = field(default_factory=grounding.Thresholds)


@dataclass(frozen=True)
class OutputCheck:
    ok: bool
    reason: str | None = None
    """``markup``, ``canary``, ``prompt_leak``, ``secret``, ``pii`` or ``ungrounded``."""
    unsupported: list[str] = field(default_factory=list)
    support: list[int] = field(default_factory=list)
    """The chunks (by position) that support the answer's sentences."""


def answer_is_safe(answer: str) -> bool:
    return not (_ACTIVE_MARKUP.search(answer) or _MARKDOWN_IMAGE.search(answer))


def _shingles(text: str) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", text.lower())
    return {tuple(words[i : i + _SHINGLE]) for i in range(len(words) - _SHINGLE + 1)}


def leaks_prompt(answer: str, system_prompt: str, chunks: Sequence[str] = ()) -> bool:
    """Whether the answer repeats a run of the system prompt's words that the FAQ text does
    not also contain ("never ask for your PIN" may be in both)."""
    if not system_prompt:
        return False
    shared = _shingles(answer) & _shingles(system_prompt)
    return bool(shared - _shingles("\n".join(chunks))) if shared else False


def new_pii(answer: str, chunks: Sequence[str]) -> list[str]:
    """Kinds of personal data in ``answer`` whose digits (or text) the chunks do not contain:
    the FAQ's own phone number may be repeated, a customer's card number may not."""
    context = "\n".join(chunks)
    context_digits = re.sub(r"\D", "", context)
    kinds = []
    for kind, value in pii.find(answer):
        digits = re.sub(r"\D", "", value)
        known = digits in context_digits if digits else value.lower() in context.lower()
        if not known:
            kinds.append(kind)
    return kinds


def check_answer(
    answer: str,
    chunks: Sequence[str],
    policy: Policy,
    encoder: TextEncoder | None = None,
    question: str = "",
) -> OutputCheck:
    if not answer_is_safe(answer):
        return OutputCheck(False, "markup")
    if policy.canary and policy.canary.lower() in answer.lower():
        return OutputCheck(False, "canary")
    if leaks_prompt(answer, policy.system_prompt, chunks):
        return OutputCheck(False, "prompt_leak")
    if _SECRET.search(answer) or any(s and s in answer for s in policy.secrets):
        return OutputCheck(False, "secret")
    if new_pii(answer, chunks):
        return OutputCheck(False, "pii")
    checks = grounding.check(answer, chunks, encoder, policy.thresholds, question)
    if not grounding.grounded(checks):
        return OutputCheck(False, "ungrounded", [c.text for c in checks if not c.supported])
    return OutputCheck(True, support=grounding.support(checks))
