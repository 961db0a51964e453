"""Security defaults: keys, limits, rate limiting, CORS; every refusal is problem+json."""

from __future__ import annotations

import httpx
import pytest

from chatbot.app import create_app
from chatbot.errors import ConfigurationError
from chatbot.settings import Settings
from tests.integration.chatbot.conftest import (
    ADMIN,
    AUTH,
    CHAT_KEY,
    ApiServer,
    problem,
    stream_events,
    variant,
)


def test_keys_are_required_and_kept_apart(api: ApiServer) -> None:
    anonymous = httpx.post(f"{api.url}/v1/chat", json={"message": "Hello!"})
    problem(anonymous, 401)
    wrong = httpx.post(
        f"{api.url}/v1/chat", json={"message": "Hello!"}, headers={"Authorization": "Bearer x"}
    )
    problem(wrong, 401)
    problem(api.client.get("/admin/index"), 403)  # a chat key is not an admin key
    problem(httpx.get(f"{api.url}/admin/index"), 401)
    assert httpx.get(f"{api.url}/admin/index", headers=ADMIN).status_code == 200
    # Health, metrics, the OpenAPI schema and the demo page need no key.
    assert httpx.get(f"{api.url}/health/live").status_code == 200
    api.chat("How do I report a lost or stolen card?")  # a turn with a retrieval stage
    metrics = httpx.get(f"{api.url}/metrics").text
    assert 'chatbot_stage_seconds_bucket{le="0.01",stage="retrieval"}' in metrics
    schema = httpx.get(f"{api.url}/schema/openapi.json").json()
    assert {"/v1/chat", "/v1/chat/stream", "/v1/chat/completions", "/admin/ingest"} <= set(
        schema["paths"]
    )


def test_size_limits(api: ApiServer) -> None:
    too_long = "a" * (api.settings.max_message_chars + 1)
    problem(api.client.post("/v1/chat", json={"message": too_long}), 400)
    problem(api.client.post("/v1/chat/stream", json={"message": too_long}), 400)
    problem(api.client.post("/v1/chat", json={"message": "   "}), 400)
    huge = b'{"message": "' + b"a" * (api.settings.max_body_bytes + 10) + b'"}'
    oversize = api.client.post(
        "/v1/chat", content=huge, headers={"Content-Type": "application/json"}
    )
    problem(oversize, 413)
    problem(api.client.post("/v1/chat", json={"message": "hi", "max_tokens": 10**6}), 400)
    problem(api.client.post("/v1/chat", json={"message": "hi", "session_id": "../x"}), 400)
    problem(
        api.client.post(
            "/v1/chat", content=b"{not json", headers={"Content-Type": "application/json"}
        ),
        400,
    )


def test_max_tokens_is_capped(api: ApiServer) -> None:
    response = api.client.post(
        "/v1/chat/stream",
        json={"message": "Someone stole my wallet with my card in it", "max_tokens": 4000},
    )
    events = stream_events(response)
    done = events[-1][1]
    assert done["answered_by"] == "model" or done["guardrails"]["retracted"]
    # The cap (24 tokens in these tests) bounds what the model generated, whatever the request
    # asked for (counted on the streamed tokens: the output rail may replace the answer).
    generated = "".join(data["text"] for name, data in events if name == "token")
    assert 0 < len(generated.split()) <= 24


def test_rate_limit(api_settings: Settings) -> None:
    with ApiServer(variant(api_settings, rate_limit_per_minute=3)) as api:
        codes = [api.client.get("/v1/models").status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        problem(api.client.get("/v1/models"), 429)
        # Limits count per key: another key (here the admin key) has its own budget.
        assert httpx.get(f"{api.url}/v1/models", headers=ADMIN).status_code == 200
        assert httpx.get(f"{api.url}/health/ready").status_code == 200  # never limited


def test_cors_allowlist(api_settings: Settings) -> None:
    allowed = "https://support.example.com"
    with ApiServer(variant(api_settings, cors_origins=[allowed])) as api:

        def preflight(origin: str) -> httpx.Response:
            return httpx.options(
                f"{api.url}/v1/chat/stream",
                headers={
                    "Origin": origin,
                    "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "authorization,content-type",
                },
            )

        assert preflight(allowed).headers.get("access-control-allow-origin") == allowed
        assert "access-control-allow-origin" not in preflight("https://evil.example").headers


def test_admin_routes_refuse_to_run_without_admin_keys(api_settings: Settings) -> None:
    with ApiServer(variant(api_settings, admin_keys=[])) as api:
        body = problem(api.client.get("/admin/index"), 403)
        assert "CHATBOT_ADMIN_KEYS" in str(body["detail"])


def test_an_open_api_is_refused_unless_local_development() -> None:
    with pytest.raises(ConfigurationError):
        create_app(Settings(api_keys=[], host="0.0.0.0"))
    with pytest.raises(ValueError, match="CHATBOT_API_KEYS"):
        Settings(environment="production", api_keys=[], admin_keys=[CHAT_KEY])
    assert AUTH  # the shared fixtures use keys
