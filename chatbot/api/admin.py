"""``/admin``: ingest (server paths as JSON at ``/admin/ingest``, uploaded documents as
``multipart/form-data`` at ``/admin/ingest/files``; the CLI's code path) and index statistics.

An upload is written into ``<data_dir>/uploads`` and the whole data folder is re-ingested
(the ingest treats the paths given as the corpus). A dry run reads the uploads first; if one
cannot be read, the uploads are taken back (a file one replaced is restored) and the answer
is a 422 problem, with the served index untouched. Ingest runs in a worker thread with its own
embedding model, so chat turns keep being answered meanwhile.

The regression gate runs before a new version goes live. A version it refuses is an answer,
not an error: 200 with ``published: false``, ``not_published`` (why) and ``gate`` (the
figures), the served version untouched; ``force`` in the body of ``/admin/ingest`` publishes
it anyway. (An upload is never forced: the admin re-runs ``/admin/ingest`` with ``force``.)
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

from litestar import Controller, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body

from chatbot.api.openapi import ADMIN, JSON_BODY, LIMITED, problem_responses
from chatbot.api.schemas import IngestPathsRequest, IngestUpload
from chatbot.api.security import admin_key_guard
from chatbot.errors import ForbiddenPathError, InvalidRequestError, NotFoundError
from chatbot.ingesting import ingest_paths
from chatbot.services import Services
from chatbot.settings import Settings
from ingest.errors import DocumentLoadError, UnsupportedFileError
from ingest.loaders import LOADERS
from ingest.pipeline import IngestSummary
from ingest.store import current_version, load_version

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
# Every ingest may also fail because another one runs (409), a document cannot be read (422)
# or the embedding model cannot run (503).
_INGEST = (*ADMIN, 409, 422, 503, *LIMITED)


def _ingest(
    settings: Settings, paths: list[Path], full: bool, dry_run: bool, force: bool = False
) -> IngestSummary:
    return ingest_paths(settings, paths, full=full, dry_run=dry_run, force=force)


_GATE = (
    "Before the new version goes live, the regression gate compares recall@1 on the golden "
    "questions (every FAQ question, plus the admin's golden file) with the served version's. "
    "A version it refuses (recall@1 fell by more than the configured margin) is not "
    "published: the answer is still 200, with `published: false`, `not_published` saying why "
    "and `gate` holding the figures (also when the gate passed). A malformed golden file is a "
    "422 problem, before anything is written."
)


def _inside(path: str, root: Path) -> Path:
    # The messages name the path as the client sent it, never the server's folders.
    try:
        resolved = (root / path).resolve()
        inside = resolved.is_relative_to(root.resolve())
        exists = inside and resolved.exists()
    except (OSError, ValueError):  # a name too long or not encodable: it cannot exist here
        raise NotFoundError(f"{path!r} does not exist in the data folder") from None
    if not inside:
        raise ForbiddenPathError(f"{path!r} is outside the data folder")
    if not exists:
        raise NotFoundError(f"{path!r} does not exist in the data folder")
    return resolved


def _upload_name(name: str | None) -> str:
    base = _SAFE_NAME.sub("_", Path(name or "").name).lstrip(".")
    if not base or Path(base).suffix.lower() not in LOADERS:
        known = ", ".join(sorted(LOADERS))
        raise UnsupportedFileError(f"upload {name!r}: the file type must be one of {known}")
    return base


class AdminController(Controller):
    path = "/admin"
    guards = [admin_key_guard]  # noqa: RUF012
    tags = ["admin"]  # noqa: RUF012

    @post(
        "/ingest",
        status_code=200,
        summary="Ingest server paths inside the data folder (no paths: all of it)",
        description=_GATE + " `force: true` publishes a version the gate refused.",
        responses=problem_responses(*JSON_BODY, 403, 404, *_INGEST),
    )
    async def ingest(self, data: IngestPathsRequest, services: Services) -> dict[str, Any]:
        settings = services.settings
        root = settings.data_dir
        paths = [_inside(p, root) for p in data.paths] if data.paths else [root]
        async with services.exclusive_ingest():
            summary = await asyncio.to_thread(
                _ingest, settings, paths, data.full, data.dry_run, data.force
            )
        return summary.to_json()

    @post(
        "/ingest/files",
        status_code=200,
        summary="Upload documents (kept in the data folder's uploads/) and ingest them",
        description=_GATE
        + " An upload is never forced; the uploaded files stay in the data folder, so "
        "`POST /admin/ingest` with `force: true` publishes them.",
        responses=problem_responses(400, 413, 415, *_INGEST),
    )
    async def upload(
        self,
        data: Annotated[IngestUpload, Body(media_type=RequestEncodingType.MULTI_PART)],
        services: Services,
    ) -> dict[str, Any]:
        async with services.exclusive_ingest():
            return await _upload(data, services.settings)

    @get(
        "/index",
        summary="What the bot knows: the served index version and its documents",
        responses=problem_responses(*ADMIN, *LIMITED),
    )
    async def index(self, settings: Settings) -> dict[str, Any]:
        version = current_version(settings.index_dir)
        if version is None:
            return {"version": None, "documents": [], "chunks": 0}
        index = await asyncio.to_thread(load_version, settings.index_dir, version)
        manifest = index.manifest.model_dump(mode="json")
        versions = sorted(
            p.name
            for p in settings.index_dir.iterdir()
            if p.is_dir() and not p.name.startswith(".")
        )
        return {"version": version, "versions_on_disk": versions, **manifest}


async def _upload(data: IngestUpload, settings: Settings) -> dict[str, Any]:
    uploads = settings.data_dir / "uploads"
    uploads.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=uploads, prefix=".incoming-") as tmp:
        placed: list[tuple[Path, Path | None]] = []  # (target, backup of what it replaced)
        try:
            for upload in data.files:
                target = uploads / _upload_name(upload.filename)
                body = await upload.read()
                if len(body) > settings.max_file_bytes:
                    raise InvalidRequestError(f"{upload.filename}: file too large")
                backup = None
                if target.exists():
                    backup = Path(tmp) / f"{target.name}.previous"
                    shutil.copy2(target, backup)
                staged = Path(tmp) / target.name
                staged.write_bytes(body)
                staged.replace(target)
                placed.append((target, backup))
            await asyncio.to_thread(_check_uploads, settings, [t for t, _ in placed])
            summary = await asyncio.to_thread(_ingest, settings, [settings.data_dir], False, False)
        except BaseException:
            _take_back(placed)
            raise
        return summary.to_json()


def _check_uploads(settings: Settings, uploads: list[Path]) -> None:
    """A dry run (read and chunk, nothing written) must accept every uploaded document."""
    check = _ingest(settings, [settings.data_dir], False, True)
    base = settings.data_dir.resolve().name
    sources = {f"{base}/uploads/{path.name}" for path in uploads}
    bad = [r for r in check.documents if r.source in sources and r.status == "failed"]
    if bad:
        detail = "; ".join(f"{r.source}: {r.error}" for r in bad)
        raise DocumentLoadError(f"upload not ingested, nothing changed: {detail}")


def _take_back(placed: list[tuple[Path, Path | None]]) -> None:
    for target, backup in placed:
        with contextlib.suppress(OSError):
            if backup is not None:
                shutil.copy2(backup, target)
            else:
                target.unlink()
