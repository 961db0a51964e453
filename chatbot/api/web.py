"""The demo page at ``/``: a sample bank support page using the chat API."""

from __future__ import annotations

from importlib.resources import files

from litestar import Response, get

_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)


@get("/", include_in_schema=False)
async def demo_page() -> Response[bytes]:
    page = files("chatbot.web").joinpath("index.html").read_bytes()
    return Response(
        page,
        media_type="text/html; charset=utf-8",
        headers={"Content-Security-Policy": _CSP, "X-Content-Type-Options": "nosniff"},
    )
