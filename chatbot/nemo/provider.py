"""NeMo Guardrails provider: the main model of a rails config, generated through Triton.

NeMo Guardrails 0.24's default LLM framework takes providers that implement its ``LLMModel``
protocol (``generate_async`` / ``stream_async``); its LangChain text-completion providers
(``register_llm_provider``) are deprecated and would pull in langchain-community. This class
implements the protocol directly over :class:`TritonGenerator`, with real async streaming.
Its built-in ``trt_llm`` engine speaks an outdated tensor interface and blocks the event loop.

A rails ``config.yml`` names it as::

    models:
      - type: main
        engine: triton_chatbot
        model: tensorrt_llm
        parameters: {url: "127.0.0.1:8001", dialect: llmapi, max_tokens: 256}
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from nemoguardrails.llm.providers import register_provider
from nemoguardrails.types import ChatMessage, LLMResponse, LLMResponseChunk

from chatbot.generation.client import TritonGenerator
from engines.contract import DialectName
from engines.sampling import GenerationParams

PROVIDER = "triton_chatbot"
_FINISH = {"stop": "stop", "length": "length", "cancelled": "other"}


class TritonLLM:
    """``LLMModel`` for NeMo Guardrails; one gRPC channel per instance, opened lazily."""

    def __init__(
        self,
        model: str = "tensorrt_llm",
        *,
        url: str = "127.0.0.1:8001",
        dialect: DialectName = "llmapi",
        tokenizer: str | None = None,
        max_tokens: int = 256,
        temperature: float = 0.0,
        top_p: float = 1.0,
        read_timeout: float = 60.0,
        **_: Any,
    ) -> None:
        self._model = model
        self._url = url
        self._dialect: DialectName = dialect
        self._tokenizer = Path(tokenizer) if tokenizer else None
        self._read_timeout = read_timeout
        self._defaults = GenerationParams(
            max_tokens=max_tokens, temperature=temperature, top_p=top_p
        )
        self._client: TritonGenerator | None = None

    @property
    def client(self) -> TritonGenerator:
        # Created on first use, inside the event loop that will drive the gRPC channel.
        if self._client is None:
            self._client = TritonGenerator(
                self._url,
                dialect=self._dialect,
                tokenizer=self._tokenizer,
                read_timeout=self._read_timeout,
            )
        return self._client

    @property
    def model_name(self) -> str:
        return self._model

    @property
    def provider_name(self) -> str | None:
        return PROVIDER

    @property
    def provider_url(self) -> str | None:
        return self._url

    def _prompt(self, prompt: str | list[ChatMessage]) -> str:
        if isinstance(prompt, str):
            return prompt
        messages = [
            {
                "role": m.role.value,
                "content": m.content if isinstance(m.content, str) else str(m.content or ""),
            }
            for m in prompt
        ]
        return self.client.render(messages)

    def _params(self, stop: list[str] | None, kwargs: dict[str, Any]) -> GenerationParams:
        d = self._defaults
        return GenerationParams(
            max_tokens=int(kwargs.get("max_tokens") or d.max_tokens),
            temperature=float(kwargs.get("temperature", d.temperature)),
            top_p=float(kwargs.get("top_p", d.top_p)),
            stop=tuple(stop or ()),
        )

    async def generate_async(
        self, prompt: str | list[ChatMessage], *, stop: list[str] | None = None, **kwargs: Any
    ) -> LLMResponse:
        step = await self.client.complete(self._prompt(prompt), self._params(stop, kwargs))
        return LLMResponse(
            content=step.text,
            model=self._model,
            finish_reason=_FINISH.get(step.finish_reason or "stop", "other"),
        )

    async def stream_async(
        self, prompt: str | list[ChatMessage], *, stop: list[str] | None = None, **kwargs: Any
    ) -> AsyncIterator[LLMResponseChunk]:
        async for step in self.client.stream(self._prompt(prompt), self._params(stop, kwargs)):
            finish = _FINISH.get(step.finish_reason, "other") if step.finish_reason else None
            yield LLMResponseChunk(delta_content=step.text, model=self._model, finish_reason=finish)


def register() -> None:
    """Make ``engine: triton_chatbot`` available to rails configs (idempotent)."""
    register_provider(PROVIDER, TritonLLM)
