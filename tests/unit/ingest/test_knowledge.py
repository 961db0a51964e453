from __future__ import annotations

from ingest.knowledge import derive, topics
from ingest.models import Chunk


def _chunk(source: str, category: str | None, kind: str = "faq") -> Chunk:
    return Chunk(id=source, source=source, title="t", text="t", hash=source, kind=kind,  # type: ignore[arg-type]
                 category=category)  # fmt: skip


def test_topics_are_the_categories_largest_first_else_the_document_names() -> None:
    chunks = [
        _chunk("faq/a.csv", "insurance"),
        _chunk("faq/b.csv", "insurance"),
        _chunk("faq/c.csv", "cards"),
        _chunk("guides/online-banking.md", None, "passage"),
        _chunk("guides/online-banking.md", " ", "passage"),
    ]
    assert topics(chunks) == ["insurance", "online banking", "cards"]
    assert derive(chunks) == {
        "topics": ["insurance", "online banking", "cards"],
        "faq_questions": 3,
    }
