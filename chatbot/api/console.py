"""The admin console at ``/admin/``: static pages that call the admin API with the key the
admin signs in with (kept in the tab's ``sessionStorage``, never in a cookie).

The page and its assets (``chatbot/web/admin``: ES modules and one stylesheet, no build step)
are public: they hold no data, and every call they make needs the admin key. Only the files
of that folder are served, each with its own content type and ``nosniff``, so nothing else of
the package (nor a name with a path in it) can be fetched through ``/admin/assets``."""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable

from litestar import Response, get

from chatbot.errors import NotFoundError

CONSOLE: Traversable = files("chatbot.web").joinpath("admin")

# No inline script or style at all: customer text can never run as code here.
CONSOLE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def _assets() -> dict[str, str]:
    """The console's asset names and their content types (read once per request: a handful)."""
    found: dict[str, str] = {}
    for item in CONSOLE.iterdir():
        suffix = "." + item.name.rpartition(".")[2] if "." in item.name else ""
        if item.is_file() and suffix in _TYPES:
            found[item.name] = _TYPES[suffix]
    return found


@get("/admin/", include_in_schema=False)
async def console_page() -> Response[bytes]:
    return Response(
        CONSOLE.joinpath("index.html").read_bytes(),
        media_type="text/html",
        headers={"Content-Security-Policy": CONSOLE_CSP, **_HEADERS},
    )


@get("/admin/assets/{name:str}", include_in_schema=False)
async def console_asset(name: str) -> Response[bytes]:
    media_type = _assets().get(name)
    if media_type is None:
        raise NotFoundError(f"no console asset {name!r}")
    return Response(
        CONSOLE.joinpath(name).read_bytes(),
        media_type=media_type,
        headers={"Content-Security-Policy": CONSOLE_CSP, **_HEADERS},
    )
