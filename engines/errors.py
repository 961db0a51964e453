"""Errors of the ``engines`` package (the whole tree is documented in ``chatbot.errors``)."""

from __future__ import annotations


class EngineError(Exception):
    """Root of the errors the ``engines`` package raises on purpose."""


class ModelLoadError(EngineError):
    """The language model could not be found or loaded."""


class BadRequestError(EngineError):
    """A generation request that cannot be served as asked (bad parameters, prompt too long)."""


class PrepareError(EngineError):
    """A production model repository cannot be prepared as asked (bad checkpoint, options)."""
