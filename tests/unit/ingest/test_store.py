"""The versioned store with real FAISS and BM25 indexes over small random vectors."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ingest.errors import IndexUnavailableError, IngestLockedError
from ingest.models import Chunk, sha256_hex
from ingest.store import (
    CURRENT,
    MANIFEST,
    current_version,
    ingest_lock,
    load_version,
    prune,
    switch_current,
    write_version,
)


def _chunks(n: int) -> list[Chunk]:
    words = ["overdraft", "mortgage", "savings", "contactless", "chargeback", "pension"]
    texts = [f"chunk about {words[i % len(words)]} number {i}" for i in range(n)]
    return [
        Chunk(id=f"s#{i}", source="s", title=f"t{i}", text=t, hash=sha256_hex(t))
        for i, t in enumerate(texts)
    ]


def _vectors(n: int, dim: int = 8) -> np.ndarray[Any, np.dtype[np.float32]]:
    v = np.random.default_rng(0).normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _manifest(n: int) -> dict[str, Any]:
    return {
        "embedding_id": "e",
        "embedding_model": "m",
        "dimension": 8,
        "counts": {"documents": 1, "chunks": n},
        "documents": {"s": {"hash": "h", "chunks": n}},
    }


def _publish(index_dir: Path, n: int = 5, ann_threshold: int = 1000) -> str:
    manifest = write_version(index_dir, _chunks(n), _vectors(n), _manifest(n), ann_threshold)
    switch_current(index_dir, manifest.version)
    return manifest.version


def test_write_then_switch_then_load(tmp_path: Path) -> None:
    assert current_version(tmp_path) is None
    version = _publish(tmp_path)
    assert current_version(tmp_path) == version
    index = load_version(tmp_path)
    assert index.version == version
    assert [c.id for c in index.chunks] == [f"s#{i}" for i in range(5)]
    assert index.dense.ntotal == 5
    assert index.manifest.dense_index == "Flat"
    rows, _ = index.lexical.search("contactless", 2)
    assert rows[0] == 3


def test_large_corpus_gets_an_ivf_index(tmp_path: Path) -> None:
    _publish(tmp_path, n=400, ann_threshold=100)
    assert load_version(tmp_path).manifest.dense_index.startswith("IVF")


def test_written_but_not_switched_version_is_not_served(tmp_path: Path) -> None:
    served = _publish(tmp_path)
    write_version(tmp_path, _chunks(3), _vectors(3), _manifest(3), 1000)
    assert current_version(tmp_path) == served
    assert load_version(tmp_path).version == served


def test_switch_refuses_incomplete_version(tmp_path: Path) -> None:
    served = _publish(tmp_path)
    (tmp_path / "half").mkdir()
    with pytest.raises(IndexUnavailableError, match="not complete"):
        switch_current(tmp_path, "half")
    assert current_version(tmp_path) == served


def test_missing_and_corrupt_versions_raise_clearly(tmp_path: Path) -> None:
    with pytest.raises(IndexUnavailableError, match="run `chatbot ingest` first"):
        load_version(tmp_path)
    version = _publish(tmp_path)
    (tmp_path / version / MANIFEST).write_text("{not json")
    with pytest.raises(IndexUnavailableError, match="corrupt"):
        load_version(tmp_path)


def test_inconsistent_version_is_refused(tmp_path: Path) -> None:
    version = _publish(tmp_path)
    chunks = tmp_path / version / "chunks.jsonl"
    chunks.write_text("\n".join(chunks.read_text().splitlines()[:-1]) + "\n")
    with pytest.raises(IndexUnavailableError, match="inconsistent"):
        load_version(tmp_path)


def test_prune_keeps_served_and_newest_and_removes_leftovers(tmp_path: Path) -> None:
    versions = [_publish(tmp_path) for _ in range(4)]
    switch_current(tmp_path, versions[0])  # an operator rolled back to the oldest
    (tmp_path / ".building-crashed").mkdir()
    removed = prune(tmp_path, keep=2)
    assert ".building-crashed" in removed
    remaining = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("."))
    assert remaining == sorted([CURRENT, versions[0], versions[2], versions[3]])


def test_only_one_ingest_holds_the_lock(tmp_path: Path) -> None:
    with ingest_lock(tmp_path):
        errors: list[BaseException] = []

        def other() -> None:
            try:
                with ingest_lock(tmp_path):
                    pass
            except IngestLockedError as exc:
                errors.append(exc)

        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
        assert len(errors) == 1
    with ingest_lock(tmp_path):  # released afterwards
        pass
