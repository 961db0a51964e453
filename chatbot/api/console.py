"""The admin console at ``/admin/``: static pages that call the admin API with the key the
admin signs in with (kept in the tab's ``sessionStorage``, never in a cookie)."""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable

from litestar import Response, get

CONSOLE: Traversable = files("chatbot.web").joinpath("admin")

# No inline script or style at all: customer text can never run as code here.
CONSOLE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@get("/admin/", include_in_schema=False)
async def console_page() -> Response[bytes]:
    return Response(
        CONSOLE.joinpath("index.html").read_bytes(),
        media_type="text/html",
        headers={
            "Content-Security-Policy": CONSOLE_CSP,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-cache",
        },
    )
