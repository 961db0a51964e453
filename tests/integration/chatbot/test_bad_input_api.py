"""Bad input at every entry point is a 4xx problem detail, never a 500 (findings of an outside
test: deep JSON, admin bodies, non-JSON bodies, ``true`` as a number, streams that fail before
their first event, server details in production errors, OPTIONS without GET)."""

from __future__ import annotations

import pytest

from chatbot.serving import free_ports
from chatbot.settings import Settings
from tests.integration.chatbot.conftest import ADMIN, ApiServer, problem, variant

pytestmark = pytest.mark.integration

# About 1,000 levels in 2 kB: the JSON decoder's recursion limit, not a size limit.
DEEP = ("[" * 1000 + "]" * 1000).encode()
JSON = {"Content-Type": "application/json"}
JSON_ROUTES = [
    "/v1/chat",
    "/v1/chat/stream",
    "/v1/chat/completions",
    "/v1/feedback",
    "/admin/ingest",
]


@pytest.mark.parametrize("route", JSON_ROUTES)
def test_deeply_nested_json_is_a_400(api: ApiServer, route: str) -> None:
    response = api.client.post(route, content=DEEP, headers={**ADMIN, **JSON})
    assert "nested too deeply" in str(problem(response, 400)["detail"])
    wrapped = b'{"message": ' + DEEP + b"}"
    problem(api.client.post(route, content=wrapped, headers={**ADMIN, **JSON}), 400)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"", "application/json"),  # empty
        (b"{", "application/json"),  # not JSON
        (b"[1]", "application/json"),  # not an object
        (b'{"paths": "data"}', "application/json"),  # wrong types
        (b'{"paths": [1]}', "application/json"),
        (b'{"full": "yes"}', "application/json"),
        (b'{"full": 1}', "application/json"),  # strict: 1 is not true
        (b'{"paths": ["faq"], "recursive": true}', "application/json"),  # unknown field
        (('{"paths": [' + ",".join(['"faq"'] * 101) + "]}").encode(), "application/json"),
        (b'{"paths": ["faq\\u0000x"]}', "application/json"),  # a NUL byte
    ],
)
def test_bad_admin_ingest_bodies_are_a_400(api: ApiServer, body: bytes, content_type: str) -> None:
    response = api.client.post(
        "/admin/ingest", content=body, headers={**ADMIN, "Content-Type": content_type}
    )
    problem(response, 400)


def test_admin_uploads_need_a_files_field_and_paths_stay_inside(api: ApiServer) -> None:
    no_files = api.client.post(
        "/admin/ingest/files", files={"other": ("a.md", b"# x")}, headers=ADMIN
    )
    problem(no_files, 400)
    form_only = api.client.post("/admin/ingest/files", data={"files": "x"}, headers=ADMIN)
    problem(form_only, 400)
    # Documents go to /admin/ingest/files; /admin/ingest takes JSON only.
    multipart = api.client.post("/admin/ingest", files={"files": ("a.md", b"# x")}, headers=ADMIN)
    problem(multipart, 415)
    long_name = api.client.post("/admin/ingest", json={"paths": ["x" * 1000]}, headers=ADMIN)
    problem(long_name, 404)
    outside = problem(
        api.client.post("/admin/ingest", json={"paths": ["/etc"]}, headers=ADMIN), 403
    )
    assert str(api.settings.data_dir) not in str(outside["detail"])


def test_only_json_bodies_are_read_as_json(api: ApiServer) -> None:
    # A text/plain POST needs no CORS preflight: any web page could send one to an open API.
    body = b'{"message": "How do I report a lost card?"}'
    for route in ("/v1/chat", "/v1/chat/stream", "/v1/chat/completions", "/v1/feedback"):
        response = api.client.post(route, content=body, headers={"Content-Type": "text/plain"})
        problem(response, 415)
    merge_patch = {"Content-Type": "application/merge-patch+json"}  # a +json type is JSON
    assert api.client.post("/v1/chat", content=body, headers=merge_patch).status_code == 200


def test_json_types_are_strict(api: ApiServer) -> None:
    problem(api.client.post("/v1/chat", json={"message": "hi", "max_tokens": True}), 400)
    problem(api.client.post("/v1/chat", json={"message": 5}), 400)
    completion = {"model": "x", "messages": [{"role": "user", "content": "hi"}], "max_tokens": True}
    problem(api.client.post("/v1/chat/completions", json=completion), 400)
    # JSON Schema's integer includes 16.0.
    assert (
        api.client.post("/v1/chat", json={"message": "hi", "max_tokens": 16.0}).status_code == 200
    )
    no_user = {"model": "x", "messages": [{"role": "system", "content": "hi"}]}
    problem(api.client.post("/v1/chat/completions", json=no_user), 400)


def test_options_lists_every_method(api: ApiServer) -> None:
    response = api.client.options("/v1/sessions/abcdefgh12")
    assert response.status_code == 204
    assert set(response.headers["allow"].replace(" ", "").split(",")) == {
        "GET",
        "DELETE",
        "OPTIONS",
    }


def test_a_stream_failing_before_its_first_event_has_the_json_status(
    api_settings: Settings,
) -> None:
    dead_redis = f"redis://127.0.0.1:{free_ports(1)[0]}/0"
    with ApiServer(variant(api_settings, redis_url=dead_redis)) as api:
        turn = {"message": "How do I report a lost card?"}
        assert api.client.post("/v1/chat", json=turn).status_code == 503
        stream = api.client.post("/v1/chat/stream", json=turn)
        problem(stream, 503)
        completion = {
            "model": "x",
            "stream": True,
            "messages": [{"role": "user", "content": turn["message"]}],
        }
        problem(api.client.post("/v1/chat/completions", json=completion), 503)


def test_production_errors_name_no_host_or_library(api_settings: Settings) -> None:
    port = free_ports(1)[0]
    settings = variant(
        api_settings, environment="production", redis_url=f"redis://127.0.0.1:{port}/0"
    )
    with ApiServer(settings) as api:
        body = problem(
            api.client.post("/v1/chat", json={"message": "How do I report a lost card?"}), 503
        )
        assert str(port) not in str(body["detail"]) and "127.0.0.1" not in str(body["detail"])
        assert "Redis" not in str(body["detail"]) and "Error" not in str(body["detail"])
        assert str(body["instance"]).startswith("urn:uuid:")  # the log has the message under it
    with ApiServer(variant(api_settings, redis_url=f"redis://127.0.0.1:{port}/0")) as api:
        body = problem(
            api.client.post("/v1/chat", json={"message": "How do I report a lost card?"}), 503
        )
        assert str(port) in str(body["detail"])  # development keeps the detail
