"""One real embedded Triton server (both dialects) per test session."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from engines.embedded.server import EmbeddedTriton

REPO = Path(__file__).resolve().parents[3]
CACHE = REPO / ".chatbot" / "cache" / "lm"


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def start_server(log: Path) -> EmbeddedTriton:
    http, grpc, metrics = free_ports(3)
    return EmbeddedTriton(
        grpc_port=grpc,
        http_port=http,
        metrics_port=metrics,
        cache_dir=CACHE,
        log_file=log,
        device="cpu",
    ).start()


@pytest.fixture(scope="session")
def triton(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedTriton]:
    server = start_server(tmp_path_factory.mktemp("triton") / "triton.log")
    try:
        yield server
    finally:
        server.stop()
