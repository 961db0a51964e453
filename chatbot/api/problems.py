"""Every expected error as an RFC 9457 problem detail, mapped in one place."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from litestar.exceptions import HTTPException
from litestar.plugins.problem_details import ProblemDetailsConfig, ProblemDetailsException

from chatbot import errors
from chatbot.metrics import TURN_ERRORS
from engines.errors import EngineError
from ingest import errors as ingest_errors

log = logging.getLogger("chatbot")

# Most specific first: the first class an exception is an instance of decides.
STATUS: list[tuple[type[Exception], int, str]] = [
    (errors.InvalidRequestError, 400, "invalid-request"),
    (errors.InvalidSessionIdError, 400, "invalid-session-id"),
    (errors.ForbiddenPathError, 403, "forbidden-path"),
    (errors.NotFoundError, 404, "not-found"),
    (errors.GateRefusedError, 409, "gate-refused"),
    (errors.SessionStoreUnavailableError, 503, "session-store-unavailable"),
    (errors.DurableStoreUnavailableError, 503, "durable-store-unavailable"),
    (errors.EngineUnavailableError, 503, "engine-unavailable"),
    (errors.WidgetNotBuiltError, 503, "widget-not-built"),
    (errors.GenerationTimeoutError, 504, "generation-timeout"),
    (errors.GenerationRejectedError, 502, "generation-rejected"),
    (ingest_errors.IndexUnavailableError, 503, "index-unavailable"),
    (ingest_errors.IngestLockedError, 409, "ingest-running"),
    (ingest_errors.UnsupportedFileError, 415, "unsupported-file"),
    (ingest_errors.DocumentLoadError, 422, "unreadable-document"),
    (ingest_errors.NothingToIngestError, 400, "nothing-to-ingest"),
    (ingest_errors.EmbeddingError, 503, "embedding-failed"),
    (errors.ConfigurationError, 500, "configuration"),
    (errors.ChatbotError, 500, "internal"),
    (ingest_errors.IngestError, 500, "ingest-failed"),
    (EngineError, 502, "engine-error"),
]


# What a client is told in production when the server side failed (5xx): the message itself
# may name hosts, paths or a library's words, so it is logged instead, under the problem's id.
_PUBLIC_DETAIL = {
    "session-store-unavailable": "The conversation store is unavailable; please try again.",
    "engine-unavailable": "The answer engine is unavailable; please try again shortly.",
    "generation-timeout": "The answer engine did not answer in time; please try again.",
    "generation-rejected": "The answer engine could not answer this request.",
    "index-unavailable": "The knowledge base is not available yet.",
    "embedding-failed": "The knowledge base could not be searched or updated.",
}


class Problems:
    """Expected errors as RFC 9457 problem details, mapped in one place. ``production`` hides
    the message of a server-side error (5xx) from the client and logs it."""

    def __init__(self, *, production: bool) -> None:
        self.production = production

    def problem(self, exc: Exception) -> ProblemDetailsException:
        for kind, status, slug in STATUS:
            if isinstance(exc, kind):
                detail, instance = str(exc), None
                if self.production and status >= 500:
                    instance = f"urn:uuid:{uuid.uuid4()}"
                    log.error("%s (%s): %s: %s", slug, instance, type(exc).__name__, exc)
                    detail = _PUBLIC_DETAIL.get(slug, HTTPStatus(status).phrase)
                return ProblemDetailsException(
                    status_code=status,
                    type_=f"urn:chatbot:problem:{slug}",
                    title=slug.replace("-", " ").capitalize(),
                    detail=detail,
                    instance=instance,
                    extra=getattr(exc, "extra", None),
                )
        raise TypeError(f"not an expected error: {exc!r}")  # pragma: no cover

    def as_json(self, exc: Exception) -> dict[str, Any]:
        """The same problem as a plain dict, for an SSE ``error`` event."""
        found = self.problem(exc)
        body: dict[str, Any] = {
            "type": found.type_,
            "title": found.title,
            "status": found.status_code,
            "detail": found.detail,
        }
        if found.instance:
            body["instance"] = found.instance
        return body

    def _convert(self, exc: Exception) -> ProblemDetailsException:
        TURN_ERRORS.labels(type(exc).__name__).inc()
        return self.problem(exc)

    def config(self) -> ProblemDetailsConfig:
        mapping: dict[type[Exception], Callable[[Any], ProblemDetailsException]] = {
            kind: self._convert for kind in errors.EXPECTED_ERRORS
        }
        mapping[HTTPException] = _http
        mapping[Exception] = _unexpected
        return ProblemDetailsConfig(exception_to_problem_detail_map=mapping)


def _unexpected(exc: Exception) -> ProblemDetailsException:
    """A bug: the traceback goes to the log, the client gets a problem with its id."""
    instance = f"urn:uuid:{uuid.uuid4()}"
    log.error("unexpected error (%s)", instance, exc_info=exc)
    return ProblemDetailsException(
        status_code=500,
        type_="urn:chatbot:problem:internal",
        title="Internal server error",
        detail="An unexpected error occurred; it has been logged.",
        instance=instance,
    )


def _http(exc: HTTPException) -> ProblemDetailsException:
    """Litestar's own errors (401, 403, 404, 413, 429, validation): the status phrase as the
    title and the message as the detail (Litestar's default puts the message in the title)."""
    if isinstance(exc, ProblemDetailsException):
        return exc
    phrase = HTTPStatus(exc.status_code).phrase
    return ProblemDetailsException(
        status_code=exc.status_code,
        type_=f"urn:chatbot:problem:http-{exc.status_code}",
        title=phrase,
        detail=exc.detail or phrase,
        extra=exc.extra,
        headers=exc.headers,
    )
