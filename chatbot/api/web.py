"""The demo page at ``/`` and the embeddable chat widget at ``/widget.js``.

The widget is built from ``chatbot/widget`` (npm + esbuild) into ``chatbot/web/widget.js``; a
missing build is a 503 problem that says how to build it. Customers paste the script tag on
their own sites, so the script may be loaded cross-origin, and its URL carries no version:
browsers keep it a few minutes and then revalidate it by ETag.
"""

from __future__ import annotations

import gzip
import hashlib
from functools import lru_cache
from importlib.resources import files
from importlib.resources.abc import Traversable

from litestar import Request, Response, get

from chatbot.errors import WidgetNotBuiltError

WEB: Traversable = files("chatbot.web")

# The demo page runs no inline script, only the widget from this origin; its own <style> needs
# 'unsafe-inline', while the widget's styles are a constructed stylesheet, which style-src does
# not govern.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
WIDGET_MAX_AGE = 300


@lru_cache(maxsize=4)
def _gzipped(body: bytes) -> bytes:
    return gzip.compress(body, compresslevel=9, mtime=0)


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:20] + '"'


def _not_modified(request: Request, etag: str) -> bool:  # type: ignore[type-arg]
    wanted = request.headers.get("if-none-match", "")
    tags = {tag.strip().removeprefix("W/") for tag in wanted.split(",")}
    return etag in tags or "*" in tags


@get("/", include_in_schema=False)
async def demo_page() -> Response[bytes]:
    page = WEB.joinpath("index.html").read_bytes()
    return Response(
        page,
        media_type="text/html",
        headers={
            "Content-Security-Policy": PAGE_CSP,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-cache",
        },
    )


@get("/widget.js", include_in_schema=False)
async def widget_script(request: Request) -> Response[bytes]:  # type: ignore[type-arg]
    try:
        body = WEB.joinpath("widget.js").read_bytes()
    except FileNotFoundError as exc:
        raise WidgetNotBuiltError(
            "the chat widget is not built: run `make install`, or "
            "`npm ci && npm run build` in chatbot/widget"
        ) from exc
    etag = _etag(body)
    headers = {
        "Cache-Control": f"public, max-age={WIDGET_MAX_AGE}",
        "ETag": etag,
        "Vary": "Accept-Encoding",
        "X-Content-Type-Options": "nosniff",
        # Loaded by customers' pages from another origin, also under COEP.
        "Cross-Origin-Resource-Policy": "cross-origin",
    }
    if _not_modified(request, etag):
        return Response(b"", status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        body = _gzipped(body)
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type="text/javascript", headers=headers)
