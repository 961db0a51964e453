"""chatbot.handoff without a network: signatures, Retry-After, and the delivery logic around
the HTTP client (bounded concurrency, close, a failing report) over httpx's MockTransport.
(A real receiver over HTTP: tests/integration/chatbot/test_handoff_webhook.py.)"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import inspect
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from chatbot.handoff import (
    SIGNATURE_HEADER,
    WebhookDelivery,
    encode_body,
    retry_after_seconds,
    sign,
    verify,
)
from chatbot.store.records import HandoffStatus

SECRET = "webhook-secret-for-tests-0123456789"
URL = "https://support.example/hook?token=url-token-abc"
NOW = 1_750_000_000


class Recorder:
    """Collects outcomes; ``fail_first`` makes its first calls raise, like a store that is down."""

    def __init__(self, fail_first: int = 0) -> None:
        self.results: list[tuple[str, HandoffStatus, int, str | None]] = []
        self.fail_first = fail_first
        self.calls = 0

    async def delivery_result(
        self, handoff_id: str, status: HandoffStatus, attempts: int, error: str | None
    ) -> None:
        self.calls += 1
        if self.calls <= self.fail_first:
            raise RuntimeError("store down")
        self.results.append((handoff_id, status, attempts, error))

    def by_id(self) -> dict[str, tuple[HandoffStatus, int, str | None]]:
        return {h: (s, a, e) for h, s, a, e in self.results}


Handler = Callable[[httpx.Request], Coroutine[Any, Any, httpx.Response]]


def delivery(handler: Handler, report: Recorder, **kwargs: object) -> WebhookDelivery:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    options: dict[str, object] = {"backoff_s": 0.001, "max_backoff_s": 0.01, **kwargs}
    return WebhookDelivery(URL, SECRET, report, client=client, **options)  # type: ignore[arg-type]


async def ok(_request: httpx.Request) -> httpx.Response:
    return httpx.Response(200)


def metric(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


# Signatures


def test_sign_is_hmac_sha256_of_timestamp_dot_body() -> None:
    body = b'{"a":1}'
    expected = hmac.new(SECRET.encode(), b"1750000000." + body, hashlib.sha256).hexdigest()
    assert sign(SECRET, body, NOW) == f"t=1750000000,v1={expected}"


def test_verify_round_trip() -> None:
    body = encode_body({"b": [1, 2], "a": "x"})
    assert verify(SECRET, sign(SECRET, body, NOW), body, now=NOW + 10)


@pytest.mark.parametrize(
    ("secret", "body", "now"),
    [
        ("another-secret-0123456789", b'{"a":1}', NOW),  # wrong secret
        (SECRET, b'{"a":2}', NOW),  # tampered body
        (SECRET, b'{"a":1}', NOW + 301),  # too old: a replay
        (SECRET, b'{"a":1}', NOW - 301),  # too far in the future
    ],
)
def test_verify_refuses(secret: str, body: bytes, now: int) -> None:
    header = sign(SECRET, b'{"a":1}', NOW)
    assert not verify(secret, header, body, now=now)


def test_verify_tolerance_is_a_setting() -> None:
    header = sign(SECRET, b"{}", NOW)
    assert verify(SECRET, header, b"{}", now=NOW + 3600, tolerance_s=7200)
    assert not verify(SECRET, header, b"{}", now=NOW + 61, tolerance_s=60)


@pytest.mark.parametrize(
    "header",
    ["", "garbage", "t=abc,v1=00", "v1=00", f"t={NOW}", f"t={NOW},v1=", f"t={NOW},v0=00"],
)
def test_verify_refuses_malformed_headers(header: str) -> None:
    assert not verify(SECRET, header, b"{}", now=NOW)


def test_verify_accepts_any_of_several_signatures() -> None:
    # A sender rotating secrets signs with both; the receiver knows one of them.
    old = sign("old-secret-0123456789", b"{}", NOW).split(",")[1]
    header = f"{sign(SECRET, b'{}', NOW)},{old}"
    assert verify(SECRET, header, b"{}", now=NOW)
    assert verify("old-secret-0123456789", header, b"{}", now=NOW)


def test_body_is_canonical_json() -> None:
    assert (
        encode_body({"b": 1, "a": {"d": None, "c": "é"}}) == b'{"a":{"c":"\\u00e9","d":null},"b":1}'
    )


# Retry-After


def test_retry_after_seconds() -> None:
    now = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds(" 0 ") == 0.0
    assert retry_after_seconds("Sun, 01 Jun 2025 12:00:30 GMT", now=now) == 30.0
    assert retry_after_seconds("Sun, 01 Jun 2025 11:00:00 GMT", now=now) == 0.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds("-5") is None
    assert retry_after_seconds(None) is None


def test_retry_after_is_capped_by_max_backoff() -> None:
    async def main() -> None:
        calls = 0

        async def handler(_request: httpx.Request) -> httpx.Response:
            nonlocal calls
            calls += 1
            if calls == 1:
                return httpx.Response(429, headers={"Retry-After": "3600"})
            return httpx.Response(200)

        report = Recorder()
        async with delivery(handler, report, max_backoff_s=0.05) as hooks:
            hooks.submit("h1", {})
            await asyncio.wait_for(hooks.close(), 5)
        assert report.results == [("h1", HandoffStatus.DELIVERED, 2, None)]

    asyncio.run(main())


# The delivery logic


def test_submit_is_not_a_coroutine() -> None:
    assert not inspect.iscoroutinefunction(WebhookDelivery.submit)


@pytest.mark.parametrize(
    "kwargs",
    [{"attempts": 0}, {"queue_size": 0}, {"workers": 0}, {"timeout": 0}, {"backoff_s": -1}],
)
def test_bad_arguments(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        WebhookDelivery(URL, SECRET, Recorder(), **kwargs)  # type: ignore[arg-type]


def test_a_secret_is_required() -> None:
    with pytest.raises(ValueError):
        WebhookDelivery(URL, "", Recorder())


def test_payload_that_is_not_json_raises() -> None:
    hooks = WebhookDelivery(URL, SECRET, Recorder())
    with pytest.raises(TypeError):
        hooks.submit("h1", {"when": datetime.now(UTC)})


def test_submit_after_close_is_dropped_and_counted() -> None:
    async def main() -> None:
        hooks = delivery(ok, Recorder())
        hooks.start()
        await hooks.close()
        before = metric("chatbot_handoff_dropped_total")
        assert hooks.submit("late", {}) is False
        assert hooks.dropped == 1
        assert metric("chatbot_handoff_dropped_total") - before == 1

    asyncio.run(main())


def test_payload_is_encoded_at_submit() -> None:
    async def main() -> None:
        bodies: list[bytes] = []

        async def handler(request: httpx.Request) -> httpx.Response:
            bodies.append(request.content)
            return httpx.Response(200)

        payload = {"n": 1}
        hooks = delivery(handler, Recorder())
        hooks.submit("h1", payload)
        payload["n"] = 2  # after submit: not what is sent
        await hooks.close()
        assert bodies == [b'{"n":1}']

    asyncio.run(main())


def test_deliveries_run_concurrently_up_to_the_worker_bound() -> None:
    async def main() -> None:
        gate = asyncio.Event()
        in_flight = 0
        most = 0
        arrived = asyncio.Event()

        async def handler(_request: httpx.Request) -> httpx.Response:
            nonlocal in_flight, most
            in_flight += 1
            most = max(most, in_flight)
            if in_flight == 3:
                arrived.set()
            await gate.wait()
            in_flight -= 1
            return httpx.Response(200)

        report = Recorder()
        async with delivery(handler, report, workers=3) as hooks:
            for i in range(7):
                assert hooks.submit(f"h{i}", {"i": i})
            await asyncio.wait_for(arrived.wait(), 5)
            await asyncio.sleep(0.05)  # room for a fourth request, were one to start
            assert in_flight == 3
            assert hooks.pending == 7
            gate.set()
        assert most == 3
        assert sorted(report.by_id()) == [f"h{i}" for i in range(7)]
        assert {s for s, _, _ in report.by_id().values()} == {HandoffStatus.DELIVERED}

    asyncio.run(main())


def test_a_slow_receiver_call_does_not_hold_up_the_others() -> None:
    async def main() -> None:
        release = asyncio.Event()

        async def handler(request: httpx.Request) -> httpx.Response:
            if request.headers["X-Chatbot-Delivery"] == "slow":
                await release.wait()
            return httpx.Response(200)

        report = Recorder()
        async with delivery(handler, report, workers=2) as hooks:
            hooks.submit("slow", {})
            for i in range(5):
                hooks.submit(f"h{i}", {})
            for _ in range(200):
                if len(report.results) == 5:
                    break
                await asyncio.sleep(0.01)
            assert sorted(report.by_id()) == [f"h{i}" for i in range(5)]
            release.set()
        assert report.by_id()["slow"] == (HandoffStatus.DELIVERED, 1, None)

    asyncio.run(main())


def test_a_report_that_raises_does_not_stop_the_worker(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        report = Recorder(fail_first=1)
        async with delivery(ok, report, workers=1) as hooks:
            hooks.submit("h1", {})
            hooks.submit("h2", {})
        assert report.calls == 2
        assert report.results == [("h2", HandoffStatus.DELIVERED, 1, None)]
        assert hooks.delivered == 2

    asyncio.run(main())
    assert "outcome of h1 not recorded" in caplog.text


def test_close_after_timeout_reports_what_is_left_pending() -> None:
    async def main() -> None:
        async def hang(_request: httpx.Request) -> httpx.Response:
            await asyncio.sleep(3600)
            return httpx.Response(200)

        report = Recorder()
        hooks = delivery(hang, report, workers=1)
        hooks.start()
        hooks.submit("in-flight", {})
        hooks.submit("queued", {})
        await asyncio.sleep(0.05)
        await asyncio.wait_for(hooks.close(timeout=0.2), 5)
        assert report.by_id() == {
            "in-flight": (HandoffStatus.PENDING, 1, "not delivered before shutdown"),
            "queued": (HandoffStatus.PENDING, 0, "not delivered before shutdown"),
        }
        assert hooks.pending == 0
        assert hooks.submit("after", {}) is False

    asyncio.run(main())


def test_close_while_waiting_to_retry_reports_pending() -> None:
    async def main() -> None:
        async def down(_request: httpx.Request) -> httpx.Response:
            return httpx.Response(503)

        report = Recorder()
        hooks = delivery(down, report, backoff_s=30, max_backoff_s=60)
        hooks.start()
        hooks.submit("h1", {})
        await asyncio.sleep(0.05)
        await asyncio.wait_for(hooks.close(timeout=0.2), 5)
        assert report.results == [("h1", HandoffStatus.PENDING, 1, "not delivered before shutdown")]

    asyncio.run(main())


def test_errors_name_neither_url_nor_secret() -> None:
    async def main() -> None:
        async def handler(request: httpx.Request) -> httpx.Response:
            # An error message that quotes what it was given, as some do.
            raise httpx.ConnectError(f"cannot reach {request.url} with {SECRET}", request=request)

        report = Recorder()
        async with delivery(handler, report, attempts=2) as hooks:
            hooks.submit("h1", {})
        [(_, status, attempts, error)] = report.results
        assert (status, attempts) == (HandoffStatus.FAILED, 2)
        assert error is not None
        assert error.startswith("ConnectError: cannot reach [redacted]")
        assert "url-token-abc" not in error
        assert SECRET not in error

    asyncio.run(main())


def test_unexpected_errors_fail_at_once_and_keep_the_worker() -> None:
    async def main() -> None:
        async def handler(request: httpx.Request) -> httpx.Response:
            if request.headers["X-Chatbot-Delivery"] == "bad":
                raise RuntimeError("boom")
            return httpx.Response(200)

        report = Recorder()
        async with delivery(handler, report, workers=1) as hooks:
            hooks.submit("bad", {})
            hooks.submit("good", {})
        assert report.by_id() == {
            "bad": (HandoffStatus.FAILED, 1, "RuntimeError: boom"),
            "good": (HandoffStatus.DELIVERED, 1, None),
        }

    asyncio.run(main())


@pytest.mark.parametrize(
    ("status", "attempts", "outcome"),
    [
        (204, 1, HandoffStatus.DELIVERED),
        (302, 1, HandoffStatus.FAILED),  # redirects are not followed
        (401, 1, HandoffStatus.FAILED),
        (404, 1, HandoffStatus.FAILED),
        (408, 3, HandoffStatus.FAILED),
        (429, 3, HandoffStatus.FAILED),
        (502, 3, HandoffStatus.FAILED),
    ],
)
def test_which_answers_are_retried(status: int, attempts: int, outcome: HandoffStatus) -> None:
    async def main() -> None:
        async def handler(_request: httpx.Request) -> httpx.Response:
            return httpx.Response(status, headers={"Location": "https://elsewhere.example/"})

        report = Recorder()
        async with delivery(handler, report, attempts=3) as hooks:
            hooks.submit("h1", {})
        error = None if outcome is HandoffStatus.DELIVERED else f"HTTP {status}"
        assert report.results == [("h1", outcome, attempts, error)]

    asyncio.run(main())


def test_counters() -> None:
    async def main() -> None:
        async def handler(request: httpx.Request) -> httpx.Response:
            return httpx.Response(200 if request.headers["X-Chatbot-Delivery"] == "ok" else 400)

        delivered = metric("chatbot_handoff_delivered_total")
        failed = metric("chatbot_handoff_failed_total")
        async with delivery(handler, Recorder()) as hooks:
            hooks.submit("ok", {})
            hooks.submit("no", {})
        assert metric("chatbot_handoff_delivered_total") - delivered == 1
        assert metric("chatbot_handoff_failed_total") - failed == 1
        assert (hooks.delivered, hooks.failed) == (1, 1)

    asyncio.run(main())


def test_each_attempt_is_signed_afresh() -> None:
    async def main() -> None:
        seen: list[tuple[str, str]] = []

        async def handler(request: httpx.Request) -> httpx.Response:
            header = request.headers[SIGNATURE_HEADER]
            assert verify(SECRET, header, request.content)
            seen.append((request.headers["X-Chatbot-Attempt"], header))
            return httpx.Response(500 if len(seen) < 2 else 200)

        async with delivery(handler, Recorder()) as hooks:
            hooks.submit("h1", {"a": 1})
        assert [attempt for attempt, _ in seen] == ["1", "2"]

    asyncio.run(main())
