"""Every expected error as an RFC 9457 problem detail, mapped in one place."""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from litestar.exceptions import HTTPException
from litestar.plugins.problem_details import ProblemDetailsConfig, ProblemDetailsException

from chatbot import errors
from chatbot.metrics import TURN_ERRORS
from engines.errors import EngineError
from ingest import errors as ingest_errors

# Most specific first: the first class an exception is an instance of decides.
STATUS: list[tuple[type[Exception], int, str]] = [
    (errors.InvalidRequestError, 400, "invalid-request"),
    (errors.InvalidSessionIdError, 400, "invalid-session-id"),
    (errors.NotFoundError, 404, "not-found"),
    (errors.SessionStoreUnavailableError, 503, "session-store-unavailable"),
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


def problem(exc: Exception) -> ProblemDetailsException:
    for kind, status, slug in STATUS:
        if isinstance(exc, kind):
            return ProblemDetailsException(
                status_code=status,
                type_=f"urn:chatbot:problem:{slug}",
                title=slug.replace("-", " ").capitalize(),
                detail=str(exc),
            )
    raise TypeError(f"not an expected error: {exc!r}")  # pragma: no cover


def problem_json(exc: Exception) -> dict[str, Any]:
    """The same problem as a plain dict, for an SSE ``error`` event."""
    found = problem(exc)
    return {
        "type": found.type_,
        "title": found.title,
        "status": found.status_code,
        "detail": found.detail,
    }


def _convert(exc: Exception) -> ProblemDetailsException:
    TURN_ERRORS.labels(type(exc).__name__).inc()
    return problem(exc)


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


def config() -> ProblemDetailsConfig:
    mapping: dict[type[Exception], Callable[[Any], ProblemDetailsException]] = {
        kind: _convert for kind in errors.EXPECTED_ERRORS
    }
    mapping[HTTPException] = _http
    return ProblemDetailsConfig(exception_to_problem_detail_map=mapping)
