from __future__ import annotations

from pathlib import Path

import pytest

from ingest.chunking import chunk_document, load_document
from ingest.config import ChunkingConfig
from ingest.errors import DocumentLoadError
from ingest.models import LoadedDocument, Section, sha256_hex

CONFIG = ChunkingConfig(chunk_size=200, chunk_overlap=40)


def _doc(*sections: Section) -> LoadedDocument:
    return LoadedDocument(source="data/x.md", hash="h", sections=list(sections))


def test_faq_pairs_stay_one_chunk_whatever_their_length() -> None:
    answer = "word " * 200
    doc = _doc(Section(title="Q?", text=f"Q?\n{answer}", kind="faq", answer=answer))
    [chunk] = chunk_document(doc, CONFIG)
    assert chunk.kind == "faq"
    assert chunk.text.startswith("Q?\n")
    assert chunk.hash == sha256_hex(chunk.text)


def test_passages_split_within_size_with_overlap() -> None:
    text = " ".join(f"Sentence number {i} about savings accounts." for i in range(40))
    chunks = chunk_document(_doc(Section(title="Savings", text=text)), CONFIG)
    assert len(chunks) > 3
    assert all(len(c.text) <= CONFIG.chunk_size for c in chunks)
    assert all(c.title == "Savings" for c in chunks)
    # Overlap: each chunk starts with words the previous one ended with.
    assert chunks[1].text.split()[0] in chunks[0].text


def test_chunk_ids_are_stable_and_entry_ids_win() -> None:
    doc = _doc(
        Section(title="A?", text="A?\na", kind="faq", answer="a", entry_id="acc-1"),
        Section(title="Intro", text="Some intro text."),
    )
    first = chunk_document(doc, CONFIG)
    again = chunk_document(doc, CONFIG)
    assert [c.id for c in first] == [c.id for c in again]
    assert first[0].id == "data/x.md#acc-1"
    assert first[1].id.startswith("data/x.md#")


def test_duplicate_entry_ids_are_reported() -> None:
    doc = _doc(
        Section(title="A?", text="A?\na", kind="faq", entry_id="dup", location="line 2"),
        Section(title="B?", text="B?\nb", kind="faq", entry_id="dup", location="line 3"),
    )
    assert [c.title for c in chunk_document(doc, CONFIG)] == ["A?"]
    assert doc.warnings == ["line 3: duplicate id 'dup', entry skipped"]


def test_load_document_hashes_bytes_and_enforces_size(tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    path.write_text("hello")
    doc = load_document(path, "f.txt", CONFIG)
    assert doc.hash == sha256_hex(b"hello")
    with pytest.raises(DocumentLoadError, match="over the 3 limit"):
        load_document(path, "f.txt", ChunkingConfig(max_file_bytes=3))


def test_unreadable_file_is_a_load_error(tmp_path: Path) -> None:
    path = tmp_path / "secret.txt"
    path.mkdir()  # a directory where a file is expected: read fails
    with pytest.raises(DocumentLoadError, match="cannot read file"):
        load_document(path, "secret.txt", CONFIG)
