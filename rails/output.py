"""Checks on a finished answer (the output rail). The model's text is untrusted: it must not
carry markup that a page could run or an image link that could leak data."""

from __future__ import annotations

import re

_ACTIVE_MARKUP = re.compile(
    r"<\s*(script|iframe|object|embed|img|svg|style|link|meta)\b|javascript:|\bon\w+\s*=",
    re.IGNORECASE,
)
_MARKDOWN_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")


def answer_is_safe(answer: str) -> bool:
    return not (_ACTIVE_MARKUP.search(answer) or _MARKDOWN_IMAGE.search(answer))
