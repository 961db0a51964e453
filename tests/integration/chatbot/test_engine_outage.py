"""Triton down: not ready, 503 problems (also from the stream routes, which fail before their
first event); recovery when it returns."""

from __future__ import annotations

import time
from pathlib import Path

from chatbot.serving import free_ports
from chatbot.settings import Settings
from tests.integration.chatbot.conftest import ApiServer, variant
from tests.integration.conftest import engine_on

QUESTION = "Someone stole my card on the train, what do I do?"


def generated(reply: dict[str, object]) -> bool:
    """The engine wrote the answer (shown, or retracted by the output rails)."""
    rails = reply["guardrails"]
    assert isinstance(rails, dict)
    return reply["answered_by"] == "model" or bool(rails["retracted"])


def test_engine_down_then_back(api_settings: Settings, tmp_path: Path) -> None:
    ports = free_ports(3)
    engine = engine_on(ports, tmp_path / "triton-1.log").start()
    settings = variant(api_settings, triton_url=engine.grpc_url, connect_timeout=2.0)
    with ApiServer(settings) as api:
        try:
            assert api.client.get("/health/ready").status_code == 200
            assert generated(api.chat(QUESTION))
        finally:
            engine.stop()

        ready = api.client.get("/health/ready")
        assert ready.status_code == 503
        assert ready.headers["content-type"].startswith("application/problem+json")
        assert ready.json()["checks"]["triton"] is False
        session = api.chat("Hello!")["session_id"]  # no model needed: still answered
        down = api.client.post("/v1/chat", json={"message": QUESTION, "session_id": session})
        assert down.status_code == 503
        assert down.headers["content-type"].startswith("application/problem+json")
        assert down.json()["type"] == "urn:chatbot:problem:engine-unavailable"
        stream = api.client.post("/v1/chat/stream", json={"message": QUESTION})
        assert stream.status_code == 503  # what the JSON route says, not a 200 and an event
        assert stream.headers["content-type"].startswith("application/problem+json")
        assert stream.json()["type"] == "urn:chatbot:problem:engine-unavailable"
        # The failed turn left the session as it was.
        turns = api.client.get(f"/v1/sessions/{session}").json()["turns"]
        assert [t["user"] for t in turns] == ["Hello!"]

        back = engine_on(ports, tmp_path / "triton-2.log").start()
        try:
            # gRPC retries the connection with a backoff capped at 2 s.
            deadline = time.monotonic() + 10
            while api.client.get("/health/ready").status_code != 200:
                assert time.monotonic() < deadline, "still not ready 10 s after Triton returned"
                time.sleep(0.25)
            assert generated(api.chat(QUESTION, session))
        finally:
            back.stop()
