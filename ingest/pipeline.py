"""One ingest run: discover files, load and chunk, diff against the served version, embed
what changed, write a new version, run the regression gate (:mod:`ingest.gate`), switch
``CURRENT``.

The paths given form the whole corpus: a document that was in the served version and is no
longer found is removed (unless ``keep_unlisted``: then only the paths given are re-read, as
when the admin's FAQ file alone is published). A document that fails to load this time keeps
its previous chunks (reported as failed), so a corrupt upload never silently deletes
knowledge. A version the gate refuses is removed again, unpublished, unless the run is forced.
"""

from __future__ import annotations

import shutil
import time
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ingest.chunking import chunk_document, load_document
from ingest.config import ChunkingConfig, IndexConfig
from ingest.embeddings import Embedder
from ingest.errors import IndexUnavailableError, IngestError, NothingToIngestError
from ingest.gate import GateConfig, GateResult, GoldenQuestion, read_golden, run_gate
from ingest.knowledge import derive
from ingest.models import Chunk
from ingest.store import (
    IndexVersion,
    current_version,
    ingest_lock,
    load_version,
    prune,
    switch_current,
    write_version,
)

Status = Literal["added", "updated", "unchanged", "removed", "failed"]


@dataclass
class DocumentReport:
    source: str
    status: Status
    chunks: int = 0
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    flagged: dict[str, str] = field(default_factory=dict)
    """Chunk id -> why the screen kept it out of prompts."""


@dataclass
class IngestSummary:
    documents: list[DocumentReport]
    chunks_total: int = 0
    chunks_embedded: int = 0
    chunks_reused: int = 0
    version: str | None = None
    previous_version: str | None = None
    published: bool = False
    dry_run: bool = False
    seconds: float = 0.0
    derived: dict[str, Any] = field(default_factory=dict)
    """What the rails derived from the new version (topics, the review of its FAQ questions)."""
    gate: GateResult | None = None
    """The regression gate's figures (None: no gate ran, e.g. a dry run or nothing changed)."""
    not_published: str | None = None
    """Why the new version was not published (the gate refused it)."""

    def count(self, status: Status) -> int:
        return sum(1 for d in self.documents if d.status == status)

    @property
    def docs_per_second(self) -> float:
        processed = sum(1 for d in self.documents if d.status != "removed")
        return processed / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "previous_version": self.previous_version,
            "published": self.published,
            "dry_run": self.dry_run,
            "added": self.count("added"),
            "updated": self.count("updated"),
            "unchanged": self.count("unchanged"),
            "removed": self.count("removed"),
            "failed": self.count("failed"),
            "flagged": sum(len(d.flagged) for d in self.documents),
            "chunks": {
                "total": self.chunks_total,
                "embedded": self.chunks_embedded,
                "reused": self.chunks_reused,
            },
            "seconds": round(self.seconds, 3),
            "docs_per_second": round(self.docs_per_second, 2),
            "derived": self.derived,
            "gate": self.gate.to_json() if self.gate is not None else None,
            "not_published": self.not_published,
            "documents": [
                {
                    "source": d.source,
                    "status": d.status,
                    "chunks": d.chunks,
                    "error": d.error,
                    "warnings": d.warnings,
                    "flagged": d.flagged,
                }
                for d in self.documents
            ],
        }


def discover(paths: list[Path]) -> tuple[list[tuple[Path, str]], list[DocumentReport]]:
    """Files under ``paths`` with their document ids; missing paths become failures."""
    found: dict[str, Path] = {}
    missing: list[DocumentReport] = []
    for root in paths:
        if root.is_file():
            found.setdefault(root.name, root)
        elif root.is_dir():
            base = root.resolve().name or "root"
            for path in sorted(root.rglob("*")):
                rel = path.relative_to(root)
                if path.is_file() and not any(p.startswith(".") for p in rel.parts):
                    found.setdefault(f"{base}/{rel.as_posix()}", path)
        else:
            missing.append(
                DocumentReport(source=str(root), status="failed", error="no such file or directory")
            )
    return sorted((p, s) for s, p in found.items()), missing


def _served(index_dir: Path) -> IndexVersion | None:
    if current_version(index_dir) is None:
        return None
    try:
        return load_version(index_dir)
    except IndexUnavailableError:
        return None  # a broken served version is rebuilt from scratch


def run_ingest(
    paths: list[Path],
    *,
    index_dir: Path,
    chunking: ChunkingConfig,
    index: IndexConfig,
    embedder: Callable[[], Embedder],
    full: bool = False,
    dry_run: bool = False,
    on_embed_start: Callable[[int], None] | None = None,
    on_embedded: Callable[[int], None] | None = None,
    screen: Callable[[str], str | None] | None = None,
    review: Callable[[list[Chunk]], dict[str, Any]] | None = None,
    gate: GateConfig | None = None,
    force: bool = False,
    keep_unlisted: bool = False,
    remove: Collection[str] = (),
) -> IngestSummary:
    """Ingest ``paths`` into ``index_dir``. ``embedder`` is a factory, so a dry run or a run
    with nothing changed never loads the model. ``screen`` (the chatbot passes its retrieval
    rail) names why a chunk's text must not reach a prompt; such chunks are flagged and
    reported as warnings of their document. ``review`` (the chatbot passes its input rails)
    reads the new version's chunks before it goes live; what it returns is
    stored with the version (``derived.json``) and shown in the summary. ``gate`` measures
    the new version against the served one before it goes live; a refused version is not
    published unless ``force`` (the figures are in the summary either way). A bad golden file
    raises :class:`ingest.gate.GoldenFileError` before anything is written. ``keep_unlisted``
    keeps the served version's documents that ``paths`` do not hold (reported unchanged),
    except those named in ``remove`` (document ids: a file's name)."""
    started = time.perf_counter()
    # Read first: a bad golden file must stop the run before any embedding or writing.
    golden: list[GoldenQuestion] = []
    if gate is not None and gate.golden_file is not None and not dry_run:
        golden = read_golden(gate.golden_file)
    files, reports = discover(paths)
    with ingest_lock(index_dir):
        served = _served(index_dir)
        previous_docs = served.manifest.documents if served else {}
        previous_chunks: dict[str, list[Chunk]] = {}
        if served:
            for chunk in served.chunks:
                previous_chunks.setdefault(chunk.source, []).append(chunk)

        chunks: list[Chunk] = []
        doc_hashes: dict[str, str] = {}
        seen: set[str] = set()
        for path, source in files:
            seen.add(source)
            try:
                doc = load_document(path, source, chunking)
                doc_chunks = chunk_document(doc, chunking)
                if screen is not None:
                    doc_chunks = [replace(c, flagged=screen(c.text)) for c in doc_chunks]
            except IngestError as exc:
                kept = previous_chunks.get(source, [])
                note = f"; kept the {len(kept)} chunks of the previous version" if kept else ""
                reports.append(DocumentReport(source, "failed", len(kept), f"{exc}{note}"))
                if kept:
                    chunks.extend(kept)
                    doc_hashes[source] = previous_docs[source].hash
                continue
            if not doc_chunks:
                reports.append(DocumentReport(source, "failed", 0, "no text found", doc.warnings))
                continue
            old = previous_docs.get(source)
            status: Status = (
                "added" if old is None else "unchanged" if old.hash == doc.hash else "updated"
            )
            flagged = {c.id: c.flagged for c in doc_chunks if c.flagged}
            reports.append(
                DocumentReport(source, status, len(doc_chunks), None, doc.warnings, flagged)
            )
            chunks.extend(doc_chunks)
            doc_hashes[source] = doc.hash
        for source in sorted(set(previous_docs) - seen):
            if keep_unlisted and source not in remove:
                kept = previous_chunks.get(source, [])
                reports.append(DocumentReport(source, "unchanged", len(kept)))
                chunks.extend(kept)
                doc_hashes[source] = previous_docs[source].hash
            else:
                reports.append(DocumentReport(source, "removed", previous_docs[source].chunks))

        summary = IngestSummary(
            documents=reports,
            chunks_total=len(chunks),
            dry_run=dry_run,
            previous_version=served.version if served else None,
            version=served.version if served else None,
        )
        changed = any(r.status != "unchanged" for r in reports)
        if not chunks:
            raise NothingToIngestError(
                "no readable document in " + ", ".join(str(p) for p in paths)
            )
        if dry_run or (not changed and not full and served is not None):
            summary.seconds = time.perf_counter() - started
            return summary

        model = embedder()
        vectors = np.zeros((len(chunks), model.dim), dtype=np.float32)
        titles = np.zeros((len(chunks), model.dim), dtype=np.float32)
        reusable: dict[str, int] = {}
        if served and not full and served.manifest.embedding_id == model.id:
            reusable = {c.hash: i for i, c in enumerate(served.chunks)}
        todo, titles_todo = [], []
        for row, chunk in enumerate(chunks):
            old_row = reusable.get(chunk.hash)
            if old_row is None:
                todo.append(row)
            else:
                vectors[row] = served.vectors[old_row]  # type: ignore[union-attr]
            if old_row is None or served is None or served.titles is None:
                titles_todo.append(row)
            else:
                titles[row] = served.titles[old_row]
        if on_embed_start is not None:
            on_embed_start(len(todo))
        if todo:
            vectors[todo] = model.encode([chunks[i].text for i in todo], progress=on_embedded)
        if titles_todo:
            titles[titles_todo] = model.encode([chunks[i].title for i in titles_todo])
        summary.chunks_embedded = len(todo)
        summary.chunks_reused = len(chunks) - len(todo)
        summary.derived = derive(chunks)
        if review is not None:
            summary.derived |= review(chunks)

        per_doc = Counter(c.source for c in chunks)
        manifest = write_version(
            index_dir,
            chunks,
            vectors,
            {
                "embedding_id": model.id,
                "embedding_model": str(model.model_dir),
                "dimension": model.dim,
                "counts": {"documents": len(doc_hashes), "chunks": len(chunks)},
                "documents": {
                    s: {"hash": h, "chunks": per_doc[s]} for s, h in sorted(doc_hashes.items())
                },
            },
            index.ann_threshold,
            titles=titles,
            derived=summary.derived,
        )
        if gate is not None:
            candidate = load_version(index_dir, manifest.version)
            summary.gate = run_gate(
                candidate, served, gate, admin=golden, encode=model.encode_query, force=force
            )
            if not summary.gate.passed and not force:
                # Removed, not kept unpublished: prune keeps the newest versions on disk, and
                # a refused one must not push a published (rollback) version out.
                del candidate
                shutil.rmtree(index_dir / manifest.version, ignore_errors=True)
                summary.not_published = summary.gate.reason
                summary.seconds = time.perf_counter() - started
                return summary
        switch_current(index_dir, manifest.version)
        prune(index_dir, index.keep_versions)
        summary.version = manifest.version
        summary.published = True
        summary.seconds = time.perf_counter() - started
        return summary
