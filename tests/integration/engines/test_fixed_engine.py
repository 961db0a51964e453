"""The fixed-token engine is a real Triton server with the embedded engine's models: both
dialects through the chatbot's client, its text and token count, max_tokens, stop strings,
and its time to first token and inter-token interval (honoured within a loose factor: this
is no timed test), concurrent streams, cancellation, bad requests."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable, Iterator

import pytest

from chatbot.errors import GenerationRejectedError
from chatbot.generation.client import TritonGenerator
from chatbot.serving import free_ports
from engines.contract import DialectName
from engines.embedded.fixed import FixedTokens
from engines.embedded.server import EmbeddedTriton
from engines.sampling import GenerationParams, Step

DIALECTS: list[DialectName] = ["llmapi", "ensemble"]
FIXED = FixedTokens(tokens=6, ttft_ms=300.0, itl_ms=100.0)
PROMPT = "<|im_start|>user\nHow do I freeze my card?<|im_end|>\n<|im_start|>assistant\n"
LOOSE = 3.0
"""Measured times may exceed the configured ones this many times over, plus SLACK_S."""
SLACK_S = 0.5


@pytest.fixture(scope="module")
def fixed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedTriton]:
    grpc, http, metrics = free_ports(3)
    log = tmp_path_factory.mktemp("fixed") / "triton.log"
    server = FIXED.server(grpc_port=grpc, http_port=http, metrics_port=metrics, log_file=log)
    with server:
        yield server


async def timed(client: TritonGenerator, params: GenerationParams) -> list[tuple[float, Step]]:
    """Each streamed step with the seconds since the request was sent."""
    start = time.perf_counter()
    return [(time.perf_counter() - start, step) async for step in client.stream(PROMPT, params)]


def run(
    fixed: EmbeddedTriton,
    dialect: DialectName,
    body: Callable[[TritonGenerator], Awaitable[None]],
) -> None:
    async def main() -> None:
        client = TritonGenerator(fixed.grpc_url, dialect=dialect)
        try:
            assert await client.ready()
            await body(client)
        finally:
            await client.close()

    asyncio.run(main())


@pytest.mark.parametrize("dialect", DIALECTS)
def test_streams_the_text_as_its_tokens_at_the_set_times(
    fixed: EmbeddedTriton, dialect: DialectName
) -> None:
    async def body(client: TritonGenerator) -> None:
        steps = await timed(client, GenerationParams(max_tokens=100))
        assert [s.text for _, s in steps] == FIXED.pieces()
        assert steps[-1][1].finish_reason == "stop"
        assert all(s.finish_reason is None for _, s in steps[:-1])
        times = [t for t, _ in steps]
        ttft, last = FIXED.seconds(1), FIXED.seconds(FIXED.tokens)
        assert ttft <= times[0] <= ttft * LOOSE + SLACK_S
        assert last <= times[-1] <= last * LOOSE + SLACK_S
        itl = FIXED.itl_ms / 1000
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert itl / LOOSE <= sum(gaps) / len(gaps) <= itl * LOOSE
        started = time.perf_counter()
        whole = await client.complete(PROMPT, GenerationParams(max_tokens=100))
        assert whole.text == "".join(FIXED.pieces())
        assert time.perf_counter() - started >= last

    run(fixed, dialect, body)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_max_tokens_and_stop_strings(fixed: EmbeddedTriton, dialect: DialectName) -> None:
    async def body(client: TritonGenerator) -> None:
        short = await timed(client, GenerationParams(max_tokens=3))
        assert [s.text for _, s in short] == FIXED.pieces()[:3]
        # llmapi reports the reason; the ensemble's client calls every end "stop".
        assert short[-1][1].finish_reason == ("length" if dialect == "llmapi" else "stop")
        assert short[-1][0] < FIXED.seconds(FIXED.tokens) * LOOSE  # no wait for the rest
        cut = await client.complete(PROMPT, GenerationParams(max_tokens=100, stop=(" from",)))
        assert cut == Step("This answer comes", "stop")

    run(fixed, dialect, body)


def test_concurrent_streams_do_not_wait_for_each_other(fixed: EmbeddedTriton) -> None:
    async def body(client: TritonGenerator) -> None:
        started = time.perf_counter()
        streams = await asyncio.gather(
            *(timed(client, GenerationParams(max_tokens=100)) for _ in range(24))
        )
        took = time.perf_counter() - started
        assert all([s.text for _, s in steps] == FIXED.pieces() for steps in streams)
        # Served one after another they would take 24 times as long.
        assert took <= FIXED.seconds(FIXED.tokens) * LOOSE + SLACK_S

    run(fixed, "llmapi", body)


def test_a_stream_closed_early_and_bad_requests_leave_serving_on(fixed: EmbeddedTriton) -> None:
    async def body(client: TritonGenerator) -> None:
        long = client.stream(PROMPT, GenerationParams(max_tokens=100))
        first = await anext(long)
        assert first.text == FIXED.pieces()[0]
        await long.aclose()  # the caller stops reading: the stream is cancelled
        with pytest.raises(GenerationRejectedError, match="empty"):
            await client.complete("   ", GenerationParams())
        with pytest.raises(GenerationRejectedError, match="max_tokens"):
            await client.complete(PROMPT, GenerationParams(max_tokens=0))
        assert (await client.complete(PROMPT, GenerationParams(max_tokens=2))).text == "This answer"

    run(fixed, "ensemble", body)
