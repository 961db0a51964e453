"""Expected errors as problem details: production hides server-side messages, not client ones;
an unexpected error is a problem too, with its reference."""

from __future__ import annotations

import logging

import pytest
from litestar import Litestar, get
from litestar.testing import TestClient

from chatbot import errors
from chatbot.api.problems import Problems

LEAKY = errors.SessionStoreUnavailableError("Redis: Error 111 connecting to 10.0.0.7:6379")


def test_production_hides_the_message_of_a_server_side_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="chatbot"):
        found = Problems(production=True).as_json(LEAKY)
    assert found["status"] == 503
    assert "10.0.0.7" not in found["detail"] and "Redis" not in found["detail"]
    assert found["instance"].startswith("urn:uuid:")
    # The operator finds the message in the log under the same reference.
    assert any(
        found["instance"] in r.getMessage() and "10.0.0.7" in r.getMessage() for r in caplog.records
    )


def test_client_errors_and_development_keep_their_detail() -> None:
    refused = errors.InvalidRequestError("the message is empty")
    assert Problems(production=True).as_json(refused)["detail"] == "the message is empty"
    development = Problems(production=False).as_json(LEAKY)
    assert "10.0.0.7" in development["detail"] and "instance" not in development


def test_an_unexpected_error_is_a_problem_with_a_reference() -> None:
    from litestar.plugins.problem_details import ProblemDetailsPlugin

    @get("/boom")
    async def boom() -> None:
        raise RuntimeError("/srv/secret/path exploded")

    app = Litestar([boom], plugins=[ProblemDetailsPlugin(Problems(production=True).config())])
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom")
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "/srv/secret" not in response.text
    assert response.json()["instance"].startswith("urn:uuid:")
