"""Running the stack from the command line: the API alone, the API with the embedded engine
(``chatbot up``), and one turn in the terminal (``chatbot ask``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable, Iterator

import uvicorn

from chatbot.app import create_app
from chatbot.errors import EngineUnavailableError
from chatbot.generation.client import TritonGenerator
from chatbot.services import Services
from chatbot.settings import Settings
from chatbot.turn import TurnResult
from engines.embedded.server import EmbeddedTriton


def free_ports(count: int) -> list[int]:
    """Ports free on 127.0.0.1 right now, for a stack started on this machine (tests, bench)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]


def serve_api(settings: Settings, on_ready: Callable[[], None] | None = None) -> None:
    """Serve the API until SIGINT/SIGTERM (uvicorn shuts down gracefully)."""
    app = create_app(settings)
    if on_ready is not None:
        app.on_startup.append(lambda _app: on_ready())
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=logging.getLevelName(logging.WARNING).lower(),
        timeout_graceful_shutdown=5,
        proxy_headers=False,  # the rate limit must not trust X-Forwarded-For unless configured
    )
    uvicorn.Server(config).run()


async def _triton_ready(settings: Settings) -> bool:
    client = TritonGenerator(settings.triton_url, dialect=settings.triton_dialect)
    try:
        return await client.ready()
    finally:
        await client.close()


@contextlib.contextmanager
def engine_for(settings: Settings) -> Iterator[EmbeddedTriton | None]:
    """The embedded engine on ``CHATBOT_TRITON_URL``'s port, unless a Triton already answers
    there (then that one is used and left alone). The embedded one is supervised: restarted
    when it dies (the API's readiness says ``triton: false`` meanwhile)."""
    if asyncio.run(_triton_ready(settings)):
        yield None
        return
    host, _, port = settings.triton_url.rpartition(":")
    if host not in {"127.0.0.1", "localhost"}:
        raise EngineUnavailableError(
            f"no Triton ready at {settings.triton_url}, and the embedded engine only runs locally"
        )
    server = EmbeddedTriton(
        settings.engine_model,
        grpc_port=int(port),
        http_port=settings.engine_http_port,
        metrics_port=settings.engine_metrics_port,
        cache_dir=settings.cache_dir / "lm",
        supervise=True,
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def ask_once(settings: Settings, question: str, session_id: str | None) -> TurnResult:
    async with Services.open(settings) as services:
        return await services.pipeline.run(question, session_id)
