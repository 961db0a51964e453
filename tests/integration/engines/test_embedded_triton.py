"""The embedded engine is a real Triton server: both dialects through the chatbot's client and
the official tritonclient, streaming and not, limits, concurrency, cancellation, bad input."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from chatbot.errors import EngineUnavailableError, GenerationRejectedError
from chatbot.generation.client import TritonGenerator
from engines.contract import DIALECTS, DialectName
from engines.embedded.server import EmbeddedTriton
from engines.lm import GenerationParams
from tests.integration.conftest import CACHE, start_server

DIALECT_NAMES: list[DialectName] = ["llmapi", "ensemble"]
QUESTION = [{"role": "user", "content": "List three things a bank account is used for."}]
GREEDY = GenerationParams(max_tokens=24, temperature=0.0)


def _client(triton: EmbeddedTriton, dialect: DialectName, **kwargs: float) -> TritonGenerator:
    return TritonGenerator(triton.grpc_url, dialect=dialect, tokenizer=_tokenizer(), **kwargs)


def _tokenizer() -> Path:
    from engines.lm import default_model_file, hf_folder

    return hf_folder(default_model_file(), CACHE)


async def _collect(stream: AsyncIterator[str]) -> list[str]:
    return [delta async for delta in stream]


@pytest.mark.parametrize("dialect", DIALECT_NAMES)
def test_stream_and_whole_text_agree(triton: EmbeddedTriton, dialect: DialectName) -> None:
    async def run() -> None:
        client = _client(triton, dialect)
        try:
            assert await client.ready()
            deltas = await _collect(client.generate(QUESTION, GREEDY))
            whole = await client.complete(QUESTION, GREEDY)
        finally:
            await client.close()
        assert len(deltas) > 3, "streaming must deliver text in several steps"
        assert "".join(deltas) == whole.text
        assert whole.text.strip()
        if dialect == "llmapi":
            assert whole.finish_reason in {"stop", "length"}

    asyncio.run(run())


def test_max_tokens_and_stop_strings(triton: EmbeddedTriton) -> None:
    async def run() -> None:
        client = _client(triton, "llmapi")
        try:
            short = await client.complete(QUESTION, GenerationParams(max_tokens=4))
            assert short.finish_reason == "length"
            assert len(client.tokenizer(short.text, add_special_tokens=False)["input_ids"]) <= 4
            full = await client.complete(QUESTION, GREEDY)
            words = full.text.split()
            stop = words[len(words) // 2]
            cut = await client.complete(QUESTION, GenerationParams(max_tokens=24, stop=(stop,)))
            assert cut.finish_reason == "stop"
            assert stop not in cut.text
            assert full.text.startswith(cut.text)
            streamed = "".join(
                await _collect(
                    client.generate(QUESTION, GenerationParams(max_tokens=24, stop=(stop,)))
                )
            )
            assert streamed == cut.text
        finally:
            await client.close()

    asyncio.run(run())


def test_eight_concurrent_streams_get_their_own_text(triton: EmbeddedTriton) -> None:
    topics = ["savings", "loans", "cards", "mortgages", "fraud", "branches", "pensions", "tax"]
    prompts = [[{"role": "user", "content": f"One sentence about {t}."}] for t in topics]
    params = GenerationParams(max_tokens=12)

    async def run() -> None:
        client = _client(triton, "llmapi")
        try:
            alone = [(await client.complete(p, params)).text for p in prompts]
            together = await asyncio.gather(
                *(_collect(client.generate(p, params)) for p in prompts)
            )
        finally:
            await client.close()
        assert ["".join(t) for t in together] == alone
        assert len(set(alone)) > 4

    asyncio.run(run())


def test_cancelled_stream_stops_and_others_continue(triton: EmbeddedTriton) -> None:
    async def run() -> None:
        client = _client(triton, "llmapi")
        try:
            expected = (await client.complete(QUESTION, GREEDY)).text
            long = client.generate(QUESTION, GenerationParams(max_tokens=400))
            first = await anext(long)
            assert first
            other = asyncio.create_task(_collect(client.generate(QUESTION, GREEDY)))
            await long.aclose()  # the caller stops reading: the stream is cancelled
            assert "".join(await other) == expected
            # Had the 400-token generation gone on, this would wait for it (~20 s on CPU).
            started = time.perf_counter()
            await anext(client.generate(QUESTION, GenerationParams(max_tokens=2)))
            assert time.perf_counter() - started < 8
        finally:
            await client.close()

    asyncio.run(run())


@pytest.mark.parametrize(
    "params, message",
    [
        (GenerationParams(max_tokens=-3), "max_tokens"),
        (GenerationParams(max_tokens=10**7), "max_tokens"),
        (GenerationParams(top_p=0.0), "top_p"),
        (GenerationParams(temperature=9.0), "temperature"),
    ],
)
def test_bad_parameters_are_rejected_then_serving_goes_on(
    triton: EmbeddedTriton, params: GenerationParams, message: str
) -> None:
    async def run() -> None:
        client = _client(triton, "ensemble")
        try:
            with pytest.raises(GenerationRejectedError, match=message):
                await client.complete("Hello", params)
            assert (await client.complete("Hello", GenerationParams(max_tokens=3))).text
        finally:
            await client.close()

    asyncio.run(run())


def test_bad_prompts_are_rejected(triton: EmbeddedTriton) -> None:
    async def run() -> None:
        client = _client(triton, "llmapi")
        try:
            with pytest.raises(GenerationRejectedError, match="empty"):
                await client.complete("   ", GREEDY)
            with pytest.raises(GenerationRejectedError, match="context window"):
                await client.complete("bank " * 9000, GREEDY)
            assert (await client.complete("Hello", GenerationParams(max_tokens=3))).text
        finally:
            await client.close()

    asyncio.run(run())


@pytest.mark.parametrize("dialect", DIALECT_NAMES)
def test_official_client_malformed_requests(triton: EmbeddedTriton, dialect: DialectName) -> None:
    d = DIALECTS[dialect]
    batch = (1,) if d.max_batch_size else ()
    client = grpcclient.InferenceServerClient(triton.grpc_url)

    def infer(inputs: list[grpcclient.InferInput]) -> str:
        results: list[object] = []
        client.start_stream(callback=lambda result, error: results.append(error or result))
        client.async_stream_infer(d.model, inputs)
        deadline = time.time() + 60
        while not results and time.time() < deadline:
            time.sleep(0.05)
        client.stop_stream()
        [first] = results[:1]
        if isinstance(first, InferenceServerException):
            raise first
        return bytes(first.as_numpy("text_output").reshape(-1)[0]).decode()  # type: ignore[union-attr]

    def tensor(name: str, array: np.ndarray, datatype: str) -> grpcclient.InferInput:
        array = array.reshape(batch + array.shape)
        t = grpcclient.InferInput(name, list(array.shape), datatype)
        t.set_data_from_numpy(array)
        return t

    prompt = tensor(d.prompt, np.array([b"Hello"], dtype=np.object_), "BYTES")
    tokens = tensor(d.params["max_tokens"].name, np.array([3], dtype=np.int32), "INT32")
    try:
        with pytest.raises(InferenceServerException):  # missing text_input
            infer([tokens])
        with pytest.raises(InferenceServerException):  # wrong datatype
            infer(
                [
                    prompt,
                    tensor(d.params["max_tokens"].name, np.array([3.0], dtype=np.float32), "FP32"),
                ]
            )
        assert infer([prompt, tokens])  # and the next good request is served
    finally:
        client.close()


def test_killed_triton_gives_a_typed_error_promptly(tmp_path: Path) -> None:
    server = start_server(tmp_path / "triton.log")

    async def run() -> None:
        client = _client(server, "llmapi")
        try:
            stream = client.generate(QUESTION, GenerationParams(max_tokens=400))
            await anext(stream)
            server.stop(timeout=0.1)  # SIGTERM then SIGKILL: the server goes away mid-stream
            started = time.perf_counter()
            with pytest.raises(EngineUnavailableError):
                async for _ in stream:
                    pass
            assert time.perf_counter() - started < 10
            with pytest.raises(EngineUnavailableError):
                await client.complete("Hello", GREEDY)
        finally:
            await client.close()

    try:
        asyncio.run(run())
    finally:
        server.stop()
