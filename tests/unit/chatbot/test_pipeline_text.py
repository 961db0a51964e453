from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from chatbot.pipeline import ChatPipeline, fallback, pii_notice
from chatbot.settings import Settings
from ingest.models import Chunk
from ingest.search import Hit


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


class _Embedder:
    """Unit vectors chosen per text, so each cosine is known."""

    def __init__(self, vectors: dict[str, list[float]]) -> None:
        self.vectors = {k: np.asarray(v) / np.linalg.norm(v) for k, v in vectors.items()}

    def encode_query(self, text: str) -> np.ndarray:
        return self.vectors[text]


def _pipeline(embedder: _Embedder) -> ChatPipeline:
    retriever = SimpleNamespace(embedder=embedder)
    return ChatPipeline(
        settings=Settings(curated_threshold=0.9, suggest_threshold=0.5),
        sessions=None,  # type: ignore[arg-type]
        guard=None,  # type: ignore[arg-type]
        retriever=retriever,  # type: ignore[arg-type]
        generator=None,  # type: ignore[arg-type]
    )


def _hit(chunk: Chunk) -> Hit:
    return Hit(chunk=chunk, score=1.0, dense_score=0.5, lexical_score=0.0, index_version="v")


def test_faq_match_suggests_only_the_best_ranked_faq_entry_when_close() -> None:
    guide = Chunk(id="g", source="g.md", title="Guide", text="t", hash="h")
    near, same = _faq("Near", "a"), _faq("Same", "b")
    pipeline = _pipeline(
        _Embedder({"q": [1, 0], "Near": [1, 1], "Same": [1, 0.01], "Guide": [0, 1]})
    )
    # cos(q, Near) = 0.71: offered if the model's answer is retracted, not answered as written.
    curated, suggestion = pipeline._faq_match("q", [_hit(guide), _hit(near), _hit(same)])
    assert curated is not None and curated.chunk is same
    assert suggestion is not None and suggestion.chunk is near
    # The best-ranked FAQ entry is too far: no suggestion, even though a lower one is close.
    far = _faq("Far", "c")
    pipeline = _pipeline(_Embedder({"q": [1, 0], "Far": [0, 1], "Near": [1, 1]}))
    curated, suggestion = pipeline._faq_match("q", [_hit(far), _hit(near)])
    assert curated is None and suggestion is None
