"""The project's exception tree, documented in one place.

    ChatbotError                      errors of the ``chatbot`` package
    +-- ConfigurationError            settings that cannot work (placeholder secret, bad path)

    ingest.errors.IngestError         errors of ``ingest`` (which never imports ``chatbot``)
    +-- UnsupportedFileError          a file type no loader reads
    +-- DocumentLoadError             a file that could not be read or parsed
    +-- EmbeddingError                the embedding model could not be loaded or run
    +-- IndexUnavailableError         no index yet, a corrupt one, or one built by another model
    +-- NothingToIngestError          no readable document in the given paths
    +-- IngestLockedError             another ingest is writing the same index

``ingest`` keeps its own root so it stays importable without ``chatbot``; boundaries (CLI,
HTTP) catch ``EXPECTED_ERRORS`` and turn them into a message or a problem detail.
"""

from __future__ import annotations

from ingest.errors import IngestError


class ChatbotError(Exception):
    """Root of the errors the ``chatbot`` package raises on purpose."""


class ConfigurationError(ChatbotError):
    """Settings that cannot work."""


EXPECTED_ERRORS: tuple[type[Exception], ...] = (ChatbotError, IngestError)
