"""Async streaming client for generation through Triton (``tritonclient.grpc.aio``).

Speaks either dialect of ``engines.contract``; renders the model's chat template on the client
side (Triton applies none); maps every failure to the ``GenerationError`` tree; cancels the
gRPC stream when the caller stops reading (closing the async generator).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import grpc
import numpy as np
from tritonclient.grpc import InferInput
from tritonclient.grpc import aio as grpcaio
from tritonclient.utils import InferenceServerException

from chatbot.errors import (
    EngineUnavailableError,
    GenerationRejectedError,
    GenerationTimeoutError,
)
from engines.contract import DIALECTS, DialectName, TensorSpec
from engines.sampling import GenerationParams, Step

Messages = Sequence[dict[str, str]]
_UNAVAILABLE = {
    "StatusCode.UNAVAILABLE",
    "StatusCode.DEADLINE_EXCEEDED",
    "StatusCode.CANCELLED",
    "StatusCode.UNKNOWN",
}


def _bytes(values: Sequence[str]) -> np.ndarray[Any, np.dtype[np.object_]]:
    return np.array([v.encode("utf-8") for v in values], dtype=np.object_)


# gRPC's default reconnect backoff grows to minutes, so a restarted Triton would stay "down"
# for callers long after it is back; cap it at a few seconds.
_CHANNEL_ARGS = [
    ("grpc.max_send_message_length", 2**31 - 1),
    ("grpc.max_receive_message_length", 2**31 - 1),
    ("grpc.initial_reconnect_backoff_ms", 250),
    ("grpc.min_reconnect_backoff_ms", 250),
    ("grpc.max_reconnect_backoff_ms", 2000),
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
]

_NUMPY = {"BOOL": np.bool_, "INT32": np.int32, "UINT64": np.uint64, "FP32": np.float32}


class TritonGenerator:
    """One per process; open in the app lifespan and ``await close()`` at shutdown."""

    def __init__(
        self,
        url: str,
        *,
        dialect: DialectName = "llmapi",
        tokenizer: Path | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
    ) -> None:
        self.url = url
        self.dialect = DIALECTS[dialect]
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._tokenizer_path = tokenizer
        self._tokenizer: Any = None
        self._client = grpcaio.InferenceServerClient(url, channel_args=_CHANNEL_ARGS)

    @property
    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            from engines.lm import DEFAULT_CACHE, default_model_file, hf_folder

            path = self._tokenizer_path or hf_folder(default_model_file(), DEFAULT_CACHE)
            self._tokenizer = AutoTokenizer.from_pretrained(path)
        return self._tokenizer

    def render(self, messages: Messages) -> str:
        """The model's own chat template, ready for the assistant's turn."""
        text: str = self.tokenizer.apply_chat_template(
            list(messages), tokenize=False, add_generation_prompt=True
        )
        return text

    async def ready(self) -> bool:
        try:
            return bool(
                await asyncio.wait_for(
                    self._client.is_model_ready(self.dialect.model), self.connect_timeout
                )
            )
        except (TimeoutError, InferenceServerException, grpc.RpcError):
            return False

    async def close(self) -> None:
        await self._client.close()

    def _inputs(self, prompt: str, params: GenerationParams, stream: bool) -> list[InferInput]:
        d = self.dialect
        batch = (1,) if d.max_batch_size else ()
        inputs: list[InferInput] = []

        def add(spec: TensorSpec, array: np.ndarray[Any, Any]) -> None:
            array = array.reshape(batch + array.shape)
            tensor = InferInput(spec.name, list(array.shape), spec.datatype)
            tensor.set_data_from_numpy(array)
            inputs.append(tensor)

        add(d.inputs[0], _bytes([prompt]))
        add(d.inputs[1], np.array([stream], dtype=np.bool_))
        values: dict[str, Any] = {
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "top_k": params.top_k,
            "seed": params.seed,
        }
        for key, value in values.items():
            if value is not None:
                spec = d.params[key]
                add(spec, np.array([value], dtype=_NUMPY[spec.datatype]))
        if params.stop:
            add(d.params["stop"], _bytes(params.stop))
        return inputs

    async def stream(
        self, prompt: str | Messages, params: GenerationParams | None = None, *, stream: bool = True
    ) -> AsyncGenerator[Step, None]:
        """Steps of generated text; the last one carries the finish reason when the dialect
        reports one (llmapi), else ``"stop"``."""
        params = params or GenerationParams()
        text = prompt if isinstance(prompt, str) else self.render(prompt)
        if not await self.ready():
            raise EngineUnavailableError(
                f"Triton at {self.url} is unreachable or model {self.dialect.model!r} is not ready"
            )
        request = {"model_name": self.dialect.model, "inputs": self._inputs(text, params, stream)}

        async def requests() -> AsyncIterator[dict[str, Any]]:
            yield request

        responses = self._client.stream_infer(requests())
        try:
            while True:
                try:
                    result, error = await asyncio.wait_for(anext(responses), self.read_timeout)
                except StopAsyncIteration:
                    raise EngineUnavailableError(
                        "Triton closed the stream before the final response"
                    ) from None
                except TimeoutError:
                    raise GenerationTimeoutError(
                        f"no response from Triton within {self.read_timeout:.0f} s"
                    ) from None
                except (grpc.RpcError, InferenceServerException) as exc:
                    raise EngineUnavailableError(f"Triton stream failed: {exc}") from exc
                if error is not None:
                    status = str(error.status() or "")
                    kind = (
                        EngineUnavailableError
                        if status in _UNAVAILABLE
                        else GenerationRejectedError
                    )
                    raise kind(error.message() or str(error))
                yield self._step(result)
                if self._is_final(result):
                    return
        finally:
            # The caller stopped reading or we are done: cancel so the engine stops generating.
            with contextlib.suppress(Exception):
                responses.cancel()

    def _step(self, result: Any) -> Step:
        out = result.as_numpy("text_output")
        text = b"".join(bytes(v) for v in out.reshape(-1)).decode("utf-8", errors="replace")
        finish = None
        if any(o.name == "finish_reason" for o in self.dialect.outputs):
            reason = result.as_numpy("finish_reason")
            if reason is not None:
                finish = bytes(reason.reshape(-1)[0]).decode() or None
        if finish is None and self._is_final(result):
            finish = "stop"
        return Step(text, finish)

    @staticmethod
    def _is_final(result: Any) -> bool:
        parameters = result.get_response().parameters
        return "triton_final_response" in parameters and bool(
            parameters["triton_final_response"].bool_param
        )

    async def generate(
        self, prompt: str | Messages, params: GenerationParams | None = None
    ) -> AsyncIterator[str]:
        """Text deltas, streamed as they are generated."""
        async for step in self.stream(prompt, params):
            if step.text:
                yield step.text

    async def complete(
        self, prompt: str | Messages, params: GenerationParams | None = None
    ) -> Step:
        """The whole text in one (non-streamed) response."""
        parts: list[str] = []
        finish = None
        async for step in self.stream(prompt, params, stream=False):
            parts.append(step.text)
            finish = step.finish_reason or finish
        return Step("".join(parts), finish)
