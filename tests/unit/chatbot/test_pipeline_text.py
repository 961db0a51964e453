from __future__ import annotations

from chatbot.pipeline import fallback, pii_notice


def test_pii_notice_names_what_was_removed() -> None:
    assert "card number from your message" in pii_notice(["card"])
    assert "card number and e-mail address" in pii_notice(["card", "email"])


def test_fallback_links_the_closest_faq_entries() -> None:
    text = fallback(
        [
            {"title": "Lost card", "url": "https://help.example/cards#lost"},
            {"title": "Opening hours", "url": None},
        ]
    )
    assert "- [Lost card](https://help.example/cards#lost)" in text
    assert "- Opening hours" in text
    assert "member of our support team" in text
    assert "FAQ entries" not in fallback([])
