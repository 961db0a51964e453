"""NeMo Guardrails generates through the embedded Triton with our provider as main model."""

from __future__ import annotations

import asyncio

from nemoguardrails import LLMRails, RailsConfig

from chatbot.nemo.provider import TritonLLM, register
from engines.embedded.server import EmbeddedTriton
from tests.integration.engines.test_embedded_triton import _tokenizer

CONFIG = """
models:
  - type: main
    engine: triton_chatbot
    model: tensorrt_llm
    parameters:
      url: "{url}"
      dialect: llmapi
      tokenizer: "{tokenizer}"
      max_tokens: 16
passthrough: true
"""


def test_rails_generate_through_triton(triton: EmbeddedTriton) -> None:
    register()
    config = RailsConfig.from_content(
        yaml_content=CONFIG.format(url=triton.grpc_url, tokenizer=_tokenizer())
    )
    rails = LLMRails(config)

    async def run() -> None:
        assert isinstance(rails.llm, TritonLLM)
        reply = await rails.generate_async(
            messages=[{"role": "user", "content": "Say hello to a bank customer."}]
        )
        assert isinstance(reply, dict) and reply["content"].strip()
        chunks = [
            c
            async for c in rails.stream_async(
                messages=[{"role": "user", "content": "Say hello to a bank customer."}]
            )
        ]
        assert len([c for c in chunks if c]) > 1
        assert "".join(c for c in chunks if isinstance(c, str)).strip() == reply["content"].strip()

    asyncio.run(run())
