from __future__ import annotations

import re
import sys

import pydantic
import pytest

from chatbot.api.schemas import ChatRequest
from chatbot.turn import BLANKS, NOT_BLANK, fallback, pii_notice
from ingest.models import Chunk


def test_pii_notice_names_what_was_removed() -> None:
    assert "card number from your message" in pii_notice(["card"])
    assert "card number and e-mail address" in pii_notice(["card", "email"])


def test_fallback_links_the_closest_faq_entries() -> None:
    text = fallback(
        [
            {"id": "1", "title": "Lost card", "url": "https://help.example/cards#lost"},
            {"id": "2", "title": "Opening hours", "url": None},
        ]
    )
    assert "- [Lost card](https://help.example/cards#lost)" in text
    assert "- Opening hours" in text
    assert "member of our support team" in text
    assert "FAQ entries" not in fallback([])


def _faq(title: str, answer: str, url: str | None = None) -> Chunk:
    return Chunk(
        id=title,
        source="faq.md",
        title=title,
        text=f"{title} {answer}",
        hash="h",
        kind="faq",
        answer=answer,
        url=url,
    )


def test_fallback_offers_the_suggested_faq_entry_word_for_word() -> None:
    lost = _faq("Lost card", "Freeze it in the app.", "https://help.example/cards#lost")
    text = fallback(
        [
            {"id": "Lost card", "title": "Lost card", "url": "https://help.example/cards#lost"},
            {"id": "Opening hours", "title": "Opening hours", "url": None},
        ],
        lost,
    )
    assert "**Lost card**\n\nFreeze it in the app." in text
    assert "[Lost card](https://help.example/cards#lost)" in text
    assert text.count("Lost card](") == 1  # not listed again among the other entries
    assert "Other FAQ entries that may help:\n- Opening hours" in text
    assert "member of our support team" in text


def test_the_schema_the_validation_and_the_pipeline_agree_on_blank_messages() -> None:
    python_blanks = {chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()}
    assert python_blanks <= set(BLANKS)  # all that str.strip() would remove
    for blank in BLANKS:
        assert re.fullmatch(NOT_BLANK, blank) is None
        with pytest.raises(pydantic.ValidationError):
            ChatRequest.model_validate({"message": blank * 3}, strict=True)
    for text in ("\x1b", "a", "é", "\u200b"):  # a control character, letters, zero width
        assert re.fullmatch(NOT_BLANK, text)
        assert ChatRequest.model_validate({"message": f" {text} "}, strict=True)
