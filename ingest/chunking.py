"""Documents -> chunks. FAQ pairs stay whole; passages are split with langchain-text-splitters."""

from __future__ import annotations

from pathlib import Path

from langchain_text_splitters import RecursiveCharacterTextSplitter

from ingest.config import ChunkingConfig
from ingest.errors import DocumentLoadError
from ingest.loaders import loader_for
from ingest.models import Chunk, LoadedDocument, Section, sha256_hex


def load_document(path: Path, source: str, config: ChunkingConfig) -> LoadedDocument:
    """Read one file into sections; raises an ``IngestError`` when the file is unusable."""
    loader = loader_for(path)
    try:
        size = path.stat().st_size
        if size > config.max_file_bytes:
            raise DocumentLoadError(f"file is {size} bytes, over the {config.max_file_bytes} limit")
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentLoadError(f"cannot read file: {exc.strerror or exc}") from exc
    warnings: list[str] = []
    sections = loader(data, path.name, config.columns, warnings)
    return LoadedDocument(
        source=source, hash=sha256_hex(data), sections=sections, warnings=warnings
    )


def _chunk_id(source: str, section: Section, ordinal: int, text: str) -> str:
    # Stable across versions while the text is unchanged; FAQ rows keep their own id.
    if section.entry_id:
        return f"{source}#{section.entry_id}"
    digest = sha256_hex(f"{ordinal}\x00{text}")
    return f"{source}#{digest[:12]}"


def chunk_document(doc: LoadedDocument, config: ChunkingConfig) -> list[Chunk]:
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=config.chunk_size, chunk_overlap=config.chunk_overlap
    )
    chunks: list[Chunk] = []
    seen: set[str] = set()
    for section in doc.sections:
        pieces = [section.text] if section.kind == "faq" else splitter.split_text(section.text)
        for piece in pieces:
            text = piece.strip()
            if not text:
                continue
            chunk_id = _chunk_id(doc.source, section, len(chunks), text)
            if chunk_id in seen:
                doc.warnings.append(
                    f"{section.location or section.title}: duplicate id "
                    f"{section.entry_id!r}, entry skipped"
                )
                continue
            seen.add(chunk_id)
            chunks.append(
                Chunk(
                    id=chunk_id,
                    source=doc.source,
                    title=section.title,
                    text=text,
                    hash=sha256_hex(text),
                    kind=section.kind,
                    answer=section.answer,
                    url=section.url,
                    category=section.category,
                    location=section.location,
                )
            )
    return chunks
