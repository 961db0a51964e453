"""What the rails need from an index version, derived when the version is published.

A bank deploys its own FAQ, so the bot's scope must follow the served index, not the sample
the project ships: the topics it helps with (the FAQ's categories, largest first) and the
count of FAQ questions. The on-topic side itself is the index: every chunk's title (an FAQ
question or a heading) is embedded alone at ingest (``titles.npy``), and a message close to
one of them is on topic (``chatbot.pipeline``). The chatbot adds its review of the FAQ's own
questions (which of them its input rails would refuse) before the version goes live.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Any

from ingest.models import Chunk

MAX_TOPICS = 8


def topic(chunk: Chunk) -> str:
    """The chunk's category, else its document's name ("online-banking.md": online banking)."""
    if chunk.category and chunk.category.strip():
        return chunk.category.strip()
    return re.sub(r"[-_]+", " ", PurePosixPath(chunk.source).stem).strip()


def topics(chunks: Sequence[Chunk]) -> list[str]:
    """The FAQ's topics by number of chunks (at most ``MAX_TOPICS``)."""
    counts = Counter(name for c in chunks if (name := topic(c)))
    return [name for name, _ in counts.most_common(MAX_TOPICS)]


def derive(chunks: Sequence[Chunk]) -> dict[str, Any]:
    return {
        "topics": topics(chunks),
        "faq_questions": sum(1 for c in chunks if c.kind == "faq"),
    }
