"""The API over real HTTP: uvicorn serving ``create_app`` in a thread, against the session's
embedded Triton, the machine's Redis, the real rails and a real index of the sample FAQ."""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from httpx_sse import EventSource

from chatbot.app import create_app
from chatbot.serving import free_ports
from chatbot.settings import Settings
from engines.embedded.server import EmbeddedTriton
from ingest.embeddings import Embedder
from tests.integration.conftest import DATA, REPO, Ingest

REDIS_URL = os.environ.get("CHATBOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
CHAT_KEY = "chat-key-for-tests-0123456789"
ADMIN_KEY = "admin-key-for-tests-0123456789"
AUTH = {"Authorization": f"Bearer {CHAT_KEY}"}
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


class ApiServer:
    """One API process-in-a-thread; ``with ApiServer(settings) as api: api.client.post(...)``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = f"http://127.0.0.1:{settings.port}"
        config = uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=settings.port, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.client = httpx.Client(base_url=self.url, headers=AUTH, timeout=120)

    def __enter__(self) -> ApiServer:
        self.thread.start()
        deadline = time.monotonic() + 120
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the API did not start")
            time.sleep(0.1)
        return self

    def __exit__(self, *_: object) -> None:
        self.client.close()
        self.server.should_exit = True
        self.thread.join(timeout=30)

    def chat(self, message: str, session_id: str | None = None, **extra: Any) -> dict[str, Any]:
        body = {"message": message, "session_id": session_id, **extra}
        response = self.client.post("/v1/chat", json=body)
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data

    def llm_calls(self) -> float:
        text = self.client.get("/metrics").text
        match = re.search(r"^chatbot_llm_calls_total (\S+)$", text, re.MULTILINE)
        return float(match.group(1)) if match else 0.0


def problem(response: httpx.Response, status: int) -> dict[str, object]:
    """The response is an RFC 9457 problem detail with this status and a detail."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, object] = response.json()
    assert body["status"] == status and body["detail"]
    return body


def stream_events(response: httpx.Response) -> list[tuple[str, Any]]:
    """A Server-Sent Events body as (event, JSON data) pairs."""
    return [(e.event, json.loads(e.data)) for e in EventSource(response).iter_sse() if e.data]


@pytest.fixture(scope="session")
def served_index(
    tmp_path_factory: pytest.TempPathFactory, settings: Settings, embedder: Embedder
) -> Path:
    index_dir = tmp_path_factory.mktemp("api-index")
    Ingest(settings, embedder, index_dir)(DATA)
    return index_dir


@pytest.fixture(scope="session")
def api_settings(
    served_index: Path, triton: EmbeddedTriton, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    """Chat keys and admin keys set, Redis sessions, short answers to keep tests quick. The
    tests of generation and its rails need model turns, so the policy shows an FAQ entry as
    written only when its question says the same (curated), never as the closest entry
    (``faq_entry``); ``test_own_faq_api`` serves the shipped thresholds."""
    return Settings(
        bot_name="Northwind Bank",
        entry_threshold=1.0,
        data_dir=DATA,
        index_dir=served_index,
        cache_dir=REPO / ".chatbot" / "cache",
        triton_url=triton.grpc_url,
        redis_url=REDIS_URL,
        api_keys=[CHAT_KEY],
        admin_keys=[ADMIN_KEY],
        max_tokens=24,
        rate_limit_per_minute=100_000,
        port=free_ports(1)[0],
        database_url=f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('store')}/chatbot.db",
        # The admin's FAQ entries (POST /admin/faq) never land in the checkout's .chatbot/.
        admin_faq_file=tmp_path_factory.mktemp("admin-faq") / "admin-faq.csv",
    )


def variant(settings: Settings, **changes: Any) -> Settings:
    """The same settings on a fresh port, with ``changes``."""
    return settings.model_copy(update={"port": free_ports(1)[0], **changes})


@pytest.fixture(scope="session")
def api(api_settings: Settings) -> Iterator[ApiServer]:
    with ApiServer(api_settings) as server:
        yield server


@pytest.fixture
def private_data(tmp_path: Path, settings: Settings, embedder: Embedder) -> tuple[Path, Path]:
    """A copy of the sample data and its own index, for tests that change them."""
    data = tmp_path / "data"
    shutil.copytree(DATA, data)
    index_dir = tmp_path / "index"
    Ingest(settings, embedder, index_dir)(data)
    return data, index_dir
