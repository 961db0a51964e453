"""Versioned index folders and the atomic ``CURRENT`` pointer.

Layout of ``index_dir``::

    CURRENT                  name of the served version (replaced atomically)
    <version>/               complete versions: manifest.json, chunks.jsonl, vectors.npy,
                             dense.faiss, lexical/, titles.npy and titles.faiss (each chunk's
                             question or heading embedded alone: FAQ questions are matched
                             against the customer's), derived.json (what the rails need from
                             this version, :mod:`ingest.knowledge`)
    .building-<version>/     a version being written; renamed only once complete
    .lock                    held by the one ingest that may write here

A reader only ever follows ``CURRENT`` to a complete folder, so a crash at any point of an
ingest leaves the served version as it was.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ValidationError

from ingest.dense import build_dense_index, describe
from ingest.errors import IndexUnavailableError, IngestLockedError
from ingest.lexical import LexicalIndex
from ingest.models import Chunk

FORMAT = 1
CURRENT = "CURRENT"
MANIFEST = "manifest.json"
CHUNKS = "chunks.jsonl"
VECTORS = "vectors.npy"
DENSE = "dense.faiss"
LEXICAL = "lexical"
TITLES = "titles.npy"
TITLES_DENSE = "titles.faiss"
DERIVED = "derived.json"
_BUILDING = ".building-"


class DocumentEntry(BaseModel):
    hash: str
    chunks: int


class Manifest(BaseModel):
    format: int = FORMAT
    version: str
    created_at: str
    embedding_id: str
    embedding_model: str
    dimension: int
    dense_index: str
    counts: dict[str, int]
    documents: dict[str, DocumentEntry]


@dataclass
class IndexVersion:
    """One complete version, loaded for search."""

    path: Path
    manifest: Manifest
    chunks: list[Chunk]
    vectors: npt.NDArray[np.float32]
    dense: faiss.Index
    lexical: LexicalIndex
    titles: npt.NDArray[np.float32] | None = None
    """Row i: chunk i's title (an FAQ question) embedded alone; None in versions before it."""
    title_dense: faiss.Index | None = None
    derived: dict[str, Any] = field(default_factory=dict)
    """What was derived from this version when it was published (:mod:`ingest.knowledge`)."""

    @property
    def version(self) -> str:
        return self.manifest.version


def new_version_name() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ") + "-" + secrets.token_hex(3)


def current_version(index_dir: Path) -> str | None:
    try:
        name = (index_dir / CURRENT).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return name or None


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_file(path: Path, data: bytes) -> None:
    with path.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def write_version(
    index_dir: Path,
    chunks: list[Chunk],
    vectors: npt.NDArray[np.float32],
    manifest: dict[str, Any],
    ann_threshold: int,
    titles: npt.NDArray[np.float32] | None = None,
    derived: dict[str, Any] | None = None,
) -> Manifest:
    """Write a complete version beside the served one; does not switch ``CURRENT``.
    ``titles``: each chunk's title embedded alone (row by row); ``derived``: JSON that goes
    with the version (what the rails derive from it)."""
    version = new_version_name()
    building = index_dir / f"{_BUILDING}{version}"
    building.mkdir(parents=True)
    dense = build_dense_index(vectors, ann_threshold)
    full = Manifest(
        version=version,
        created_at=datetime.now(UTC).isoformat(),
        dense_index=describe(dense),
        **manifest,
    )
    lines = "".join(json.dumps(c.to_json(), ensure_ascii=False) + "\n" for c in chunks)
    _write_file(building / CHUNKS, lines.encode("utf-8"))
    with (building / VECTORS).open("wb") as fh:
        np.save(fh, vectors.astype(np.float32, copy=False))
        fh.flush()
        os.fsync(fh.fileno())
    faiss.write_index(dense, str(building / DENSE))
    LexicalIndex.build([c.text for c in chunks]).save(building / LEXICAL)
    if titles is not None:
        with (building / TITLES).open("wb") as fh:
            np.save(fh, titles.astype(np.float32, copy=False))
            fh.flush()
            os.fsync(fh.fileno())
        faiss.write_index(build_dense_index(titles, ann_threshold), str(building / TITLES_DENSE))
    if derived is not None:
        _write_file(building / DERIVED, json.dumps(derived, ensure_ascii=False).encode("utf-8"))
    # The manifest is written last: its presence marks the folder's content as complete.
    _write_file(building / MANIFEST, full.model_dump_json(indent=2).encode("utf-8"))
    _fsync_dir(building)
    final = index_dir / version
    building.rename(final)
    _fsync_dir(index_dir)
    return full


def switch_current(index_dir: Path, version: str) -> None:
    """Point ``CURRENT`` at ``version`` with one atomic rename."""
    if not (index_dir / version / MANIFEST).is_file():
        raise IndexUnavailableError(f"version {version} is not complete")
    tmp = index_dir / f".{CURRENT}.{secrets.token_hex(4)}"
    _write_file(tmp, version.encode("utf-8"))
    tmp.replace(index_dir / CURRENT)
    _fsync_dir(index_dir)


def read_manifest(path: Path) -> Manifest:
    try:
        return Manifest.model_validate_json((path / MANIFEST).read_bytes())
    except FileNotFoundError as exc:
        raise IndexUnavailableError(
            f"{path} has no manifest: not a complete index version"
        ) from exc
    except ValidationError as exc:
        raise IndexUnavailableError(f"{path / MANIFEST} is corrupt: {exc}") from exc


def load_version(index_dir: Path, version: str | None = None) -> IndexVersion:
    version = version or current_version(index_dir)
    if version is None:
        raise IndexUnavailableError(f"no index in {index_dir}: run `chatbot ingest` first")
    path = index_dir / version
    manifest = read_manifest(path)
    try:
        with (path / CHUNKS).open(encoding="utf-8") as fh:
            chunks = [Chunk.from_json(json.loads(line)) for line in fh if line.strip()]
        vectors = np.load(path / VECTORS, mmap_mode="r")
        dense = faiss.read_index(str(path / DENSE))
        lexical = LexicalIndex.load(path / LEXICAL, len(chunks))
        titles = title_dense = None
        if (path / TITLES).is_file():
            titles = np.load(path / TITLES, mmap_mode="r")
            title_dense = faiss.read_index(str(path / TITLES_DENSE))
        derived = (
            json.loads((path / DERIVED).read_text(encoding="utf-8"))
            if (path / DERIVED).is_file()
            else {}
        )
    except (OSError, ValueError, TypeError, RuntimeError) as exc:
        raise IndexUnavailableError(f"index version {version} is unreadable: {exc}") from exc
    if not (len(chunks) == vectors.shape[0] == dense.ntotal == manifest.counts.get("chunks")):
        raise IndexUnavailableError(
            f"index version {version} is inconsistent "
            f"({len(chunks)} chunks, {vectors.shape[0]} vectors, "
            f"{dense.ntotal} in FAISS)"
        )
    if titles is not None and not (titles.shape[0] == len(chunks) == title_dense.ntotal):  # type: ignore[union-attr]
        raise IndexUnavailableError(f"index version {version}: titles do not match its chunks")
    return IndexVersion(
        path=path,
        manifest=manifest,
        chunks=chunks,
        vectors=vectors,
        dense=dense,
        lexical=lexical,
        titles=titles,
        title_dense=title_dense,
        derived=derived,
    )


@contextlib.contextmanager
def ingest_lock(index_dir: Path) -> Iterator[None]:
    """Only one ingest writes an index folder at a time (readers never need the lock)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with (index_dir / ".lock").open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise IngestLockedError(f"another ingest is writing {index_dir}") from exc
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def prune(index_dir: Path, keep: int) -> list[str]:
    """Remove leftovers of crashed ingests and all but the newest ``keep`` versions.

    Call only while holding :func:`ingest_lock`; the served version is always kept.
    """
    served = current_version(index_dir)
    removed = []
    for path in index_dir.glob(f"{_BUILDING}*"):
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path.name)
    versions = sorted(
        p.name
        for p in index_dir.iterdir()
        if p.is_dir() and not p.name.startswith(".") and (p / MANIFEST).exists()
    )
    for name in versions[:-keep] if keep else versions:
        if name != served:
            shutil.rmtree(index_dir / name, ignore_errors=True)
            removed.append(name)
    return removed
