"""``/admin``: ingest (upload or server paths, the CLI's code path) and index statistics.

An upload is written into ``<data_dir>/uploads`` and the whole data folder is re-ingested
(the ingest treats the paths given as the corpus). A dry run reads the uploads first; if one
cannot be read, the uploads are taken back (a file one replaced is restored) and the answer
is a 422 problem, with the served index untouched. Ingest runs in a worker thread with its own
embedding model, so chat turns keep being answered meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile

from chatbot.api.schemas import IngestPathsRequest
from chatbot.api.security import admin_key_guard
from chatbot.errors import InvalidRequestError
from chatbot.ingesting import ingest_paths
from chatbot.services import Services
from chatbot.settings import Settings
from ingest.errors import DocumentLoadError, IngestLockedError
from ingest.loaders import LOADERS
from ingest.pipeline import IngestSummary
from ingest.store import current_version, load_version

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def _ingest(settings: Settings, paths: list[Path], full: bool, dry_run: bool) -> IngestSummary:
    return ingest_paths(settings, paths, full=full, dry_run=dry_run)


def _inside(path: Path, root: Path) -> Path:
    resolved = path.resolve()
    if not resolved.is_relative_to(root.resolve()):
        raise InvalidRequestError(f"{path} is outside the data folder {root}")
    if not resolved.exists():
        raise InvalidRequestError(f"{path} does not exist")
    return resolved


def _upload_name(name: str | None) -> str:
    base = _SAFE_NAME.sub("_", Path(name or "").name).lstrip(".")
    if not base or Path(base).suffix.lower() not in LOADERS:
        known = ", ".join(sorted(LOADERS))
        raise InvalidRequestError(f"upload {name!r}: the file type must be one of {known}")
    return base


class AdminController(Controller):
    path = "/admin"
    guards = [admin_key_guard]  # noqa: RUF012
    tags = ["admin"]  # noqa: RUF012

    @post("/ingest", status_code=200, summary="Ingest uploaded files or server paths")
    async def ingest(self, request: Request[Any, Any, Any], services: Services) -> dict[str, Any]:
        settings = services.settings
        if services.ingest_lock.locked():
            raise IngestLockedError("an ingest is already running")
        async with services.ingest_lock:
            if request.content_type[0] == "multipart/form-data":
                return await self._upload(request, settings)
            data = IngestPathsRequest.model_validate(await request.json())
            root = settings.data_dir
            paths = [_inside(root / p, root) for p in data.paths] if data.paths else [root]
            summary = await asyncio.to_thread(_ingest, settings, paths, data.full, data.dry_run)
            return summary.to_json()

    async def _upload(self, request: Request[Any, Any, Any], settings: Settings) -> dict[str, Any]:
        form = await request.form()
        files = [f for f in form.getall("files") if isinstance(f, UploadFile)]
        if not files:
            raise InvalidRequestError("send the documents as multipart form field 'files'")
        uploads = settings.data_dir / "uploads"
        uploads.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=uploads, prefix=".incoming-") as tmp:
            placed: list[tuple[Path, Path | None]] = []  # (target, backup of what it replaced)
            try:
                for upload in files:
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
                check = await asyncio.to_thread(_ingest, settings, [settings.data_dir], False, True)
                sources = {
                    f"{settings.data_dir.resolve().name}/uploads/{t.name}" for t, _ in placed
                }
                bad = {
                    r.source: r.error
                    for r in check.documents
                    if r.source in sources and r.status == "failed"
                }
                if bad:
                    detail = "; ".join(f"{s}: {e}" for s, e in bad.items())
                    raise DocumentLoadError(f"upload not ingested, nothing changed: {detail}")
                summary = await asyncio.to_thread(
                    _ingest, settings, [settings.data_dir], False, False
                )
            except BaseException:
                _take_back(placed)
                raise
            return summary.to_json()

    @get("/index", summary="What the bot knows: the served index version and its documents")
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
