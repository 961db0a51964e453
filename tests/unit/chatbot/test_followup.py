from __future__ import annotations

import pytest

from chatbot.followup import is_follow_up, standalone_query


@pytest.mark.parametrize(
    "message",
    [
        "and for a credit card?",
        "is there a fee for that?",
        "can I change it?",
        "what about abroad?",
    ],
)
def test_follow_ups(message: str) -> None:
    assert is_follow_up(message)
    assert standalone_query(message, ["Can I repay my loan early?"]).startswith("Can I repay")


@pytest.mark.parametrize(
    "message",
    [
        "How do I report a lost or stolen card?",
        "Can I make overpayments on my mortgage without a fee?",
        "What documents do I need to open a joint account with my partner?",
    ],
)
def test_standalone_questions_stay_as_they_are(message: str) -> None:
    assert not is_follow_up(message)
    assert standalone_query(message, ["Can I repay my loan early?"]) == message


def test_no_history_no_rewrite() -> None:
    assert standalone_query("and for a credit card?", []) == "and for a credit card?"
