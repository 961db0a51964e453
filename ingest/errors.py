"""Errors raised by the ingest service; the whole tree is documented in ``chatbot.errors``."""

from __future__ import annotations


class IngestError(Exception):
    """Root of the errors the ``ingest`` package raises on purpose."""


class UnsupportedFileError(IngestError):
    """A file type that no loader reads."""


class DocumentLoadError(IngestError):
    """A file that could not be read or parsed."""


class EmbeddingError(IngestError):
    """The embedding model could not be loaded or run."""


class IndexUnavailableError(IngestError):
    """No index yet, a corrupt index, or one built with a different embedding model."""


class NothingToIngestError(IngestError):
    """The given paths hold no readable document."""


class IngestLockedError(IngestError):
    """Another ingest is writing the same index directory."""
