"""Stopping the API with SIGTERM loses no turn: a real ``chatbot api`` process (the launcher
``chatbot.stack.ApiProcess``) answers a burst of concurrent turns, gets SIGTERM as soon as the
last answer arrives, and every answered turn is then found in its SQLite durable store.

The turn log writes off the response path, in batches that wait up to its flush time for more
records, so when the signal comes the last answers' records are still queued: only
``TurnLog.close()`` draining the queue in the lifespan's shutdown puts them on disk.
"""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import Any

import httpx

from chatbot.serving import free_ports
from chatbot.settings import Settings
from chatbot.stack import ApiProcess, api_env
from chatbot.store import DurableStore
from engines.embedded.server import EmbeddedTriton
from tests.integration.chatbot.conftest import AUTH, CHAT_KEY
from tests.integration.conftest import DATA, REPO

TURNS = 60
# FAQ questions as written: answered from the FAQ (curated), so the burst needs no model.
QUESTIONS = [
    entry["question"]
    for path in sorted((DATA / "faq").glob("*.json"))
    for entry in json.loads(path.read_text(encoding="utf-8"))
]


async def _burst(url: str, api: ApiProcess) -> list[dict[str, Any]]:
    """``TURNS`` turns at once, each in its own session; SIGTERM right after the last answer."""
    limits = httpx.Limits(max_connections=TURNS, max_keepalive_connections=TURNS)
    async with httpx.AsyncClient(base_url=url, headers=AUTH, timeout=300, limits=limits) as client:

        async def turn(i: int) -> dict[str, Any]:
            body = {"message": QUESTIONS[i % len(QUESTIONS)]}
            response = await client.post("/v1/chat", json=body)
            assert response.status_code == 200, response.text
            reply: dict[str, Any] = response.json()
            return reply

        replies = await asyncio.gather(*(turn(i) for i in range(TURNS)))
        api.terminate()
    return replies


async def _stored(url: str, message_ids: list[str]) -> dict[str, Any]:
    async with DurableStore.open(url, migrate=False) as store:
        return {m: await store.get_turn(m) for m in message_ids}


def test_sigterm_writes_every_answered_turn(
    served_index: Path, triton: EmbeddedTriton, tmp_path: Path
) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path / 'chatbot.db'}"
    settings = Settings(
        cache_dir=REPO / ".chatbot" / "cache",
        triton_url=triton.grpc_url,
        host="127.0.0.1",
        port=free_ports(1)[0],
    )
    env = api_env(
        settings,
        api_keys=CHAT_KEY,
        index_dir=str(served_index),
        data_dir=str(DATA),
        database_url=database,
        rate_limit_per_minute="1000000",
    )
    env.pop("CHATBOT_REDIS_URL", None)  # sessions in memory: the store is what is checked
    with ApiProcess(settings.port, env, cwd=REPO, stop_timeout=60) as api:
        api.wait_ready(300)
        replies = asyncio.run(_burst(api.url, api))
        assert api.process is not None
        # Shut down by itself within its graceful time: not killed by the launcher's stop().
        code = api.process.wait(60)
        log = api.log_tail()
    assert code in (0, -signal.SIGTERM), log
    assert "unwritten" not in log, log
    stored = asyncio.run(_stored(database, [r["message_id"] for r in replies]))
    lost = [m for m, record in stored.items() if record is None]
    assert not lost, f"{len(lost)} of {TURNS} answered turns missing from the store"
    for reply in replies:
        record = stored[reply["message_id"]]
        assert record.session_id == reply["session_id"]
        assert record.answer == reply["answer"]
        assert record.answered_by == reply["answered_by"]
