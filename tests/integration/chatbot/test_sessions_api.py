"""Sessions over HTTP: history, erase, feedback, restarts, expiry and isolation."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx

from chatbot.settings import Settings
from tests.integration.chatbot.conftest import AUTH, ApiServer, variant

CARDS = json.loads((Path(__file__).resolve().parents[3] / "data/faq/cards.json").read_text())


def test_history_erase_and_feedback(api: ApiServer) -> None:
    first = api.chat("Hello!")
    session = first["session_id"]
    second = api.chat(CARDS[1]["question"], session)
    turns = api.client.get(f"/v1/sessions/{session}").json()["turns"]
    assert [t["message_id"] for t in turns] == [first["message_id"], second["message_id"]]
    assert turns[1]["assistant"] == CARDS[1]["answer"]

    ok = api.client.post(
        "/v1/feedback",
        json={"session_id": session, "message_id": second["message_id"], "rating": "up"},
    )
    assert ok.status_code == 204
    assert 'chatbot_feedback_total{rating="up"}' in api.client.get("/metrics").text
    unknown = api.client.post(
        "/v1/feedback", json={"session_id": session, "message_id": "nope", "rating": "down"}
    )
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/problem+json")
    bad = api.client.post(
        "/v1/feedback", json={"session_id": session, "message_id": "x", "rating": "meh"}
    )
    assert bad.status_code == 400

    assert api.client.delete(f"/v1/sessions/{session}").status_code == 204
    assert api.client.get(f"/v1/sessions/{session}").status_code == 404
    assert api.client.delete(f"/v1/sessions/{session}").status_code == 404
    assert api.client.get("/v1/sessions/bad id!").status_code in {400, 404}


def test_sessions_survive_an_api_restart_with_redis(api_settings: Settings) -> None:
    settings = variant(api_settings)
    with ApiServer(settings) as first:
        reply = first.chat(CARDS[2]["question"])
    with ApiServer(variant(api_settings)) as second:
        turns = second.client.get(f"/v1/sessions/{reply['session_id']}").json()["turns"]
    assert [t["message_id"] for t in turns] == [reply["message_id"]]


def test_sessions_expire_after_their_ttl(api_settings: Settings) -> None:
    with ApiServer(variant(api_settings, session_ttl_seconds=1)) as api:
        reply = api.chat("Hello!")
        assert api.client.get(f"/v1/sessions/{reply['session_id']}").status_code == 200
        time.sleep(2.2)
        assert api.client.get(f"/v1/sessions/{reply['session_id']}").status_code == 404


def test_twenty_concurrent_sessions_keep_their_own_history(api: ApiServer) -> None:
    questions = [entry["question"] for entry in CARDS[:20]]  # curated: fast, no model

    async def converse(client: httpx.AsyncClient, question: str) -> tuple[str, str]:
        first = (await client.post("/v1/chat", json={"message": "Hello!"})).json()
        session = first["session_id"]
        await client.post("/v1/chat", json={"message": question, "session_id": session})
        return session, question

    async def run() -> list[tuple[str, str]]:
        async with httpx.AsyncClient(base_url=api.url, headers=AUTH, timeout=120) as client:
            return await asyncio.gather(*(converse(client, q) for q in questions))

    for session, question in asyncio.run(run()):
        turns = api.client.get(f"/v1/sessions/{session}").json()["turns"]
        assert [t["user"] for t in turns] == ["Hello!", question]
