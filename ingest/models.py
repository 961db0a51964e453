"""Data passed between the ingest stages."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

ChunkKind = Literal["faq", "passage"]


def sha256_hex(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Section:
    """A piece of a document as a loader sees it, before splitting."""

    title: str
    text: str
    kind: ChunkKind = "passage"
    answer: str | None = None
    url: str | None = None
    category: str | None = None
    entry_id: str | None = None
    location: str | None = None


@dataclass
class LoadedDocument:
    source: str
    """Stable document id: the path relative to the folder given to ingest."""
    hash: str
    sections: list[Section]
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Chunk:
    id: str
    source: str
    title: str
    text: str
    """What is embedded and searched (for FAQ pairs: question and answer together)."""
    hash: str
    kind: ChunkKind = "passage"
    answer: str | None = None
    url: str | None = None
    category: str | None = None
    location: str | None = None
    flagged: str | None = None
    """Why the ingest's screen refused this chunk (text aimed at the assistant); a flagged
    chunk is indexed, so admins can see it, but never put in a prompt."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Chunk:
        return cls(**data)
