"""Access control: bearer API keys for ``/v1``, separate admin keys for ``/admin``, and the
identity the rate limit counts by.

Without API keys the chat API is open, which the app allows only in development while bound to
the loopback interface (``create_app`` refuses otherwise). Admin routes never run without an
admin key.
"""

from __future__ import annotations

import hashlib
import hmac

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware.rate_limit import get_remote_address

from chatbot.settings import Settings


def bearer(connection: ASGIConnection) -> str | None:  # type: ignore[type-arg]
    header = connection.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _matches(token: str, keys: list[str]) -> bool:
    # Compare every key in constant time so the answer time does not tell how close a guess is.
    return any(hmac.compare_digest(token.encode(), key.encode()) for key in keys)


def _settings(connection: ASGIConnection) -> Settings:  # type: ignore[type-arg]
    settings: Settings = connection.app.state.settings
    return settings


def api_key_guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:  # type: ignore[type-arg]
    settings = _settings(connection)
    if not settings.api_keys:
        return
    token = bearer(connection)
    if token is None:
        raise NotAuthorizedException("an API key is required: Authorization: Bearer <key>")
    if not (_matches(token, settings.api_keys) or _matches(token, settings.admin_keys)):
        raise NotAuthorizedException("unknown API key")


def admin_key_guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:  # type: ignore[type-arg]
    settings = _settings(connection)
    if not settings.admin_keys:
        raise PermissionDeniedException("admin routes are disabled until CHATBOT_ADMIN_KEYS is set")
    token = bearer(connection)
    if token is None:
        raise NotAuthorizedException("an admin key is required: Authorization: Bearer <key>")
    if not _matches(token, settings.admin_keys):
        if _matches(token, settings.api_keys):
            raise PermissionDeniedException("this key may chat but not administer")
        raise NotAuthorizedException("unknown admin key")


def client_identity(request: ASGIConnection) -> str:  # type: ignore[type-arg]
    """Rate limits count per API key when one is sent, else per client address."""
    token = bearer(request)
    if token:
        return "key:" + hashlib.sha256(token.encode()).hexdigest()[:16]
    return "ip:" + get_remote_address(request)  # type: ignore[arg-type]
