"""WebhookDelivery against a real HTTP receiver (pytest-httpserver on 127.0.0.1): what it
sends, which answers it retries, and what it reports."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from chatbot.desk import HandoffDesk
from chatbot.handoff import SIGNATURE_HEADER, WebhookDelivery, verify
from chatbot.serving import free_ports
from chatbot.store import DurableStore
from chatbot.store.records import HandoffStatus, NewHandoff

SECRET = "webhook-secret-for-tests-0123456789"
PAYLOAD: dict[str, object] = {
    "handoff_id": "h1",
    "session_id": "s1",
    "question": "Can I talk to a person?",
}


class Recorder:
    def __init__(self) -> None:
        self.results: list[tuple[str, HandoffStatus, int, str | None]] = []

    async def delivery_result(
        self, handoff_id: str, status: HandoffStatus, attempts: int, error: str | None
    ) -> None:
        self.results.append((handoff_id, status, attempts, error))


@pytest.fixture
def receiver() -> Iterator[HTTPServer]:
    # Threaded, so a slow answer does not hold up the next request.
    server = HTTPServer(host="127.0.0.1", threaded=True)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


def deliver(
    url: str, handoffs: dict[str, dict[str, object]], **kwargs: float
) -> list[tuple[str, HandoffStatus, int, str | None]]:
    """Submit ``handoffs``, close (which drains), and return what was reported."""

    async def main() -> list[tuple[str, HandoffStatus, int, str | None]]:
        report = Recorder()
        options: dict[str, float] = {"backoff_s": 0.01, "max_backoff_s": 0.1, **kwargs}
        async with WebhookDelivery(url, SECRET, report, **options) as hooks:  # type: ignore[arg-type]
            for handoff_id, payload in handoffs.items():
                assert hooks.submit(handoff_id, payload)
        return report.results

    return asyncio.run(main())


def requests_to(server: HTTPServer) -> list[Request]:
    return [request for request, _ in server.log]


def test_delivered_first_try_with_a_signature_the_receiver_verifies(
    receiver: HTTPServer,
) -> None:
    verdicts: list[bool] = []

    def check(request: Request) -> Response:
        # What a receiver does: verify the raw body before parsing it.
        verdicts.append(verify(SECRET, request.headers[SIGNATURE_HEADER], request.get_data()))
        return Response(status=204)

    receiver.expect_request("/hook", method="POST").respond_with_handler(check)
    results = deliver(receiver.url_for("/hook"), {"h1": PAYLOAD})
    assert results == [("h1", HandoffStatus.DELIVERED, 1, None)]
    assert verdicts == [True]
    [request] = requests_to(receiver)
    assert request.get_data() == json.dumps(PAYLOAD, separators=(",", ":"), sort_keys=True).encode()
    assert json.loads(request.get_data()) == PAYLOAD
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Chatbot-Delivery"] == "h1"
    assert request.headers["X-Chatbot-Attempt"] == "1"
    assert "guarded-faq-chatbot" in request.headers["User-Agent"]
    assert not verify("some-other-secret-0123", request.headers[SIGNATURE_HEADER], request.data)


def test_server_errors_are_retried_until_delivered(receiver: HTTPServer) -> None:
    for status in (500, 500, 200):
        receiver.expect_ordered_request("/hook", method="POST").respond_with_data("", status)
    results = deliver(receiver.url_for("/hook"), {"h1": PAYLOAD})
    assert results == [("h1", HandoffStatus.DELIVERED, 3, None)]
    receiver.check_assertions()
    sent = requests_to(receiver)
    assert [r.headers["X-Chatbot-Attempt"] for r in sent] == ["1", "2", "3"]
    assert {r.headers["X-Chatbot-Delivery"] for r in sent} == {"h1"}
    assert all(verify(SECRET, r.headers[SIGNATURE_HEADER], r.get_data()) for r in sent)


def test_a_client_error_fails_at_once(receiver: HTTPServer) -> None:
    receiver.expect_request("/hook").respond_with_data("bad signature", 400)
    results = deliver(receiver.url_for("/hook"), {"h1": PAYLOAD})
    assert results == [("h1", HandoffStatus.FAILED, 1, "HTTP 400")]
    assert len(requests_to(receiver)) == 1


def test_receiver_down_fails_after_every_attempt() -> None:
    [port] = free_ports(1)  # nothing listens there
    results = deliver(f"http://127.0.0.1:{port}/hook", {"h1": PAYLOAD}, attempts=3)
    [(handoff_id, status, attempts, error)] = results
    assert (handoff_id, status, attempts) == ("h1", HandoffStatus.FAILED, 3)
    assert error is not None
    assert error.startswith("ConnectError")
    assert SECRET not in error


def test_a_timeout_is_retried(receiver: HTTPServer) -> None:
    calls = 0

    def slow_once(_request: Request) -> Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            time.sleep(1.0)
        return Response(status=200)

    receiver.expect_request("/hook").respond_with_handler(slow_once)
    results = deliver(receiver.url_for("/hook"), {"h1": PAYLOAD}, timeout=0.3)
    assert results == [("h1", HandoffStatus.DELIVERED, 2, None)]


def test_too_many_requests_waits_for_retry_after(receiver: HTTPServer) -> None:
    arrivals: list[float] = []

    def busy_once(_request: Request) -> Response:
        arrivals.append(time.monotonic())
        if len(arrivals) == 1:
            return Response(status=429, headers={"Retry-After": "1"})
        return Response(status=200)

    receiver.expect_request("/hook").respond_with_handler(busy_once)
    results = deliver(receiver.url_for("/hook"), {"h1": PAYLOAD}, max_backoff_s=5)
    assert results == [("h1", HandoffStatus.DELIVERED, 2, None)]
    # The backoff alone (backoff_s=0.01) is far shorter: the wait was the receiver's.
    assert arrivals[1] - arrivals[0] >= 0.95


def test_a_full_queue_refuses_and_close_delivers_what_was_queued(receiver: HTTPServer) -> None:
    receiver.expect_request("/hook").respond_with_data("", 200)

    async def main() -> tuple[list[bool], list[tuple[str, HandoffStatus, int, str | None]]]:
        report = Recorder()
        hooks = WebhookDelivery(receiver.url_for("/hook"), SECRET, report, queue_size=3)
        # Not started: nothing leaves the queue, so the fourth does not fit.
        accepted = [hooks.submit(f"h{i}", {"i": i}) for i in range(4)]
        await hooks.close()
        return accepted, report.results

    accepted, results = asyncio.run(main())
    assert accepted == [True, True, True, False]
    assert sorted(results) == [(f"h{i}", HandoffStatus.DELIVERED, 1, None) for i in range(3)]
    assert sorted(r.headers["X-Chatbot-Delivery"] for r in requests_to(receiver)) == [
        "h0",
        "h1",
        "h2",
    ]


def test_close_drains_queued_deliveries(receiver: HTTPServer) -> None:
    def slowish(_request: Request) -> Response:
        time.sleep(0.1)
        return Response(status=200)

    receiver.expect_request("/hook").respond_with_handler(slowish)
    handoffs: dict[str, dict[str, object]] = {f"h{i}": {"i": i} for i in range(12)}
    # More handoffs than workers, each answered slowly, all still queued at close.
    results = deliver(receiver.url_for("/hook"), handoffs)
    assert sorted(h for h, *_ in results) == sorted(handoffs)
    assert {status for _, status, _, _ in results} == {HandoffStatus.DELIVERED}
    assert len(requests_to(receiver)) == 12


def test_close_gives_up_after_its_timeout_and_reports_pending(receiver: HTTPServer) -> None:
    receiver.expect_request("/hook").respond_with_data("", 503)

    async def main() -> list[tuple[str, HandoffStatus, int, str | None]]:
        report = Recorder()
        hooks = WebhookDelivery(
            receiver.url_for("/hook"), SECRET, report, backoff_s=30, max_backoff_s=60
        )
        hooks.start()
        hooks.submit("h1", PAYLOAD)
        while not receiver.log:
            await asyncio.sleep(0.01)
        await hooks.close(timeout=0.3)
        return report.results

    results = asyncio.run(asyncio.wait_for(main(), 10))
    assert results == [("h1", HandoffStatus.PENDING, 1, "not delivered before shutdown")]


def test_handoffs_left_pending_by_a_stop_are_sent_at_the_next_start(
    receiver: HTTPServer, tmp_path: Path
) -> None:
    """A stop (or a full queue) leaves a handoff ``pending`` in the store; the next process's
    desk sends it, and only the pending ones, oldest first."""
    receiver.expect_request("/hook", method="POST").respond_with_data("", 204)

    def stored(handoff_id: str, status: HandoffStatus, minutes: int) -> NewHandoff:
        return NewHandoff(
            id=handoff_id,
            session_id="s1",
            message_id=f"m-{handoff_id}",
            transcript=({"role": "customer", "text": "I want a person"},),
            sources=(),
            status=status,
            created_at=datetime(2026, 12, 7, 9, minutes, tzinfo=UTC),
        )

    async def main() -> tuple[int, dict[str, HandoffStatus]]:
        async with DurableStore.open(f"sqlite+aiosqlite:///{tmp_path}/chatbot.db") as store:
            await store.add_handoff(stored("late", HandoffStatus.PENDING, 5))
            await store.add_handoff(stored("early", HandoffStatus.PENDING, 1))
            await store.add_handoff(stored("done", HandoffStatus.DELIVERED, 2))
            await store.add_handoff(stored("local", HandoffStatus.NOT_CONFIGURED, 3))
            async with WebhookDelivery(
                receiver.url_for("/hook"), SECRET, store, workers=1
            ) as delivery:
                queued = await HandoffDesk(store, delivery, "").resume()
            return queued, {h.id: h.status for h in await store.list_handoffs()}

    queued, statuses = asyncio.run(main())
    assert queued == 2
    sent = [json.loads(request.get_data()) for request in requests_to(receiver)]
    assert [body["handoff_id"] for body in sent] == ["early", "late"]
    assert sent[0]["transcript"] == [{"role": "customer", "text": "I want a person"}]
    assert sent[0]["created_at"] == "2026-12-07T09:01:00+00:00"
    assert statuses == {
        "early": HandoffStatus.DELIVERED,
        "late": HandoffStatus.DELIVERED,
        "done": HandoffStatus.DELIVERED,
        "local": HandoffStatus.NOT_CONFIGURED,
    }
