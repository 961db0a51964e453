"""The project's exception tree, documented in one place.

    ChatbotError                      errors of the ``chatbot`` package
    +-- ConfigurationError            settings that cannot work (placeholder secret, bad path)
    +-- InvalidRequestError           a request the API refuses (empty or too long message, ...)
    +-- ForbiddenPathError            an admin path outside the data folder
    +-- WidgetNotBuiltError           /widget.js asked for, but chatbot/widget was never built
    +-- NotFoundError                 a session or message that does not exist
    +-- GateRefusedError              the regression gate kept an admin's FAQ change from going
    |                                 live (409, its figures in the problem's ``gate`` member)
    +-- StackError                    a part of a local stack (``chatbot.stack``) did not start
    +-- DurableStoreUnavailableError  the durable store's database failed or is unreachable
    +-- SessionError                  the session store failed or was asked for nonsense
    |   +-- InvalidSessionIdError     a session id that is not ours (wrong shape)
    |   +-- SessionStoreUnavailableError  Redis unreachable
    +-- GenerationError               generation through Triton failed
        +-- EngineUnavailableError    Triton down, unreachable, or the model not ready
        +-- GenerationTimeoutError    no response within the read timeout
        +-- GenerationRejectedError   Triton refused the request (bad parameters, prompt too long)

    engines.errors.EngineError        errors of ``engines`` (used in-process and by the engine)
    +-- ModelLoadError                the language model could not be found or loaded
    +-- BadRequestError               generation parameters or prompt out of bounds
    +-- PrepareError                  `engine prepare`: bad checkpoint or conflicting options

    ingest.errors.IngestError         errors of ``ingest`` (which never imports ``chatbot``)
    +-- UnsupportedFileError          a file type no loader reads
    +-- DocumentLoadError             a file that could not be read or parsed
    |   +-- GoldenFileError           the regression gate's golden questions cannot be read
    +-- EmbeddingError                the embedding model could not be loaded or run
    +-- IndexUnavailableError         no index yet, a corrupt one, or one built by another model
    +-- NothingToIngestError          no readable document in the given paths
    +-- IngestLockedError             another ingest is writing the same index

``ingest`` and ``engines`` keep their own roots so they stay importable without ``chatbot``;
boundaries (CLI, HTTP) catch ``EXPECTED_ERRORS`` and turn them into a message or a problem
detail.
"""

from __future__ import annotations

from typing import Any

from engines.errors import EngineError
from ingest.errors import IngestError


class ChatbotError(Exception):
    """Root of the errors the ``chatbot`` package raises on purpose."""


class ConfigurationError(ChatbotError):
    """Settings that cannot work."""


class InvalidRequestError(ChatbotError):
    """A request the API refuses: empty or too long message, unknown file type, bad path."""


class ForbiddenPathError(ChatbotError):
    """An admin ingest path outside the data folder."""


class WidgetNotBuiltError(ChatbotError):
    """The widget bundle (``chatbot/web/widget.js``, built by npm in ``chatbot/widget``) is
    missing."""


class NotFoundError(ChatbotError):
    """A session or message that does not exist (or has expired)."""


class GateRefusedError(ChatbotError):
    def __init__(self, message: str, gate: dict[str, Any]) -> None:
        super().__init__(message)
        self.extra = {"gate": gate}


class DurableStoreUnavailableError(ChatbotError):
    """The durable store's database (turn log, feedback) failed or cannot be reached."""


class StackError(ChatbotError):
    """A part of a locally started stack did not start, or is not ready in time."""


class SessionError(ChatbotError):
    """The session store failed or was asked for nonsense."""


class InvalidSessionIdError(SessionError):
    """A session id of the wrong shape (ids are 8-64 letters, digits, '-' or '_')."""


class SessionStoreUnavailableError(SessionError):
    """The session store (Redis) cannot be reached."""


class GenerationError(ChatbotError):
    """Generation through Triton failed."""


class EngineUnavailableError(GenerationError):
    """Triton is down or unreachable, or the model is not ready."""


class GenerationTimeoutError(GenerationError):
    """Triton sent nothing within the read timeout."""


class GenerationRejectedError(GenerationError):
    """Triton refused the request, e.g. bad parameters or a prompt over the context window."""


EXPECTED_ERRORS: tuple[type[Exception], ...] = (ChatbotError, IngestError, EngineError)
