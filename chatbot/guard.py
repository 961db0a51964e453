"""NeMo Guardrails around each turn: input and dialog rails before retrieval, output rails
after generation.

The rails never call the language model themselves: intents are matched by embeddings (the
same MiniLM as retrieval, shared through the ``chatbot`` embedding engine), canned replies
come from Colang, and the fallback intent hands the turn back to the pipeline, which makes
the single generation call of the turn.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nemoguardrails import LLMRails, RailsConfig
from nemoguardrails.embeddings.providers import register_embedding_provider
from nemoguardrails.embeddings.providers.base import EmbeddingModel

from chatbot.errors import ConfigurationError
from ingest.embeddings import Embedder

_EMBEDDERS: dict[str, Embedder] = {}
_registered: list[bool] = []  # NeMo's provider registry refuses a second registration
_INPUT_ONLY = {"input": True, "dialog": True, "output": False, "retrieval": False}
_OUTPUT_ONLY = {"input": False, "dialog": False, "output": True, "retrieval": False}
_INPUT_VARS = ["user_message", "pii_masked", "route", "handoff", "blocked"]


class _NoMainLLMFilter(logging.Filter):
    """The rails run without a main LLM on purpose; NeMo warns about that on every call."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "No main LLM specified" not in record.getMessage()


class SharedEmbeddings(EmbeddingModel):  # type: ignore[misc]  # NeMo ships no types
    """NeMo embedding engine ``chatbot``: the process's own :class:`Embedder` (its ``model``
    names an entry of the registry), so intents and retrieval share one model and one cache."""

    engine_name = "chatbot"

    def __init__(self, embedding_model: str, **_: Any) -> None:
        self.name = embedding_model

    def _embedder(self) -> Embedder:
        try:
            return _EMBEDDERS[self.name]
        except KeyError:
            raise ConfigurationError(f"no embedder registered as {self.name!r}") from None

    def encode(self, documents: list[str]) -> list[list[float]]:
        embedder = self._embedder()
        if len(documents) == 1:
            return [embedder.encode_query(documents[0]).tolist()]
        return [row.tolist() for row in embedder.encode(documents)]

    async def encode_async(self, documents: list[str]) -> list[list[float]]:
        return await asyncio.to_thread(self.encode, documents)


@dataclass(frozen=True)
class InputVerdict:
    text: str
    """The user's message after the input rails (PII masked)."""
    reply: str | None
    """A canned reply from a dialog flow; None when the pipeline should answer."""
    pii: list[str] = field(default_factory=list)
    handoff: bool = False
    blocked: str | None = None
    """Why the message is refused (e.g. ``off_topic``); None when it is not."""
    rails: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class OutputVerdict:
    text: str
    blocked: bool
    rails: list[str] = field(default_factory=list)


class Guardrails:
    """One ``LLMRails`` per process, created in the app lifespan."""

    def __init__(self, config_path: Path, embedder: Embedder) -> None:
        if not (config_path / "config.yml").is_file():
            raise ConfigurationError(f"{config_path} is not a NeMo Guardrails config folder")
        _EMBEDDERS["shared"] = embedder
        if not _registered:
            register_embedding_provider(SharedEmbeddings, "chatbot")
            _registered.append(True)
        logging.getLogger("nemoguardrails.rails.llm.llmrails").addFilter(_NoMainLLMFilter())
        self.config_path = config_path
        self._rails = LLMRails(RailsConfig.from_path(str(config_path)))

    async def warm_up(self) -> None:
        """The first call builds the intent index (seconds); do it before serving."""
        await self.check_input("hello")

    async def check_input(self, message: str) -> InputVerdict:
        result: Any = await self._rails.generate_async(
            messages=[{"role": "user", "content": message}],
            options={
                "rails": _INPUT_ONLY,
                "output_vars": _INPUT_VARS,
                "log": {"activated_rails": True},
            },
        )
        data = result.output_data or {}
        reply = _content(result.response)
        answer = data.get("route") == "answer"
        return InputVerdict(
            text=str(data.get("user_message") or message),
            reply=None if answer else reply,
            pii=list(data.get("pii_masked") or []),
            handoff=bool(data.get("handoff")),
            blocked=data.get("blocked") or None,
            rails=_activated(result),
        )

    async def check_output(self, user: str, answer: str) -> OutputVerdict:
        result: Any = await self._rails.generate_async(
            messages=[{"role": "user", "content": user}, {"role": "assistant", "content": answer}],
            options={
                "rails": _OUTPUT_ONLY,
                "output_vars": ["output_blocked"],
                "log": {"activated_rails": True},
            },
        )
        blocked = bool((result.output_data or {}).get("output_blocked"))
        return OutputVerdict(
            text=_content(result.response) if blocked else answer,
            blocked=blocked,
            rails=_activated(result),
        )


def _content(response: Any) -> str:
    if isinstance(response, list):
        return str(response[-1].get("content", "")) if response else ""
    return str(response or "")


def _activated(result: Any) -> list[str]:
    log = getattr(result, "log", None)
    rails = getattr(log, "activated_rails", None) or []
    return [r.name for r in rails if r.type not in {"generation"}]
