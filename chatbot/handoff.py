"""Handoffs to a person, delivered to the support team's webhook: signed, retried, reported.

:meth:`WebhookDelivery.submit` only puts the handoff into a bounded ``asyncio.Queue`` (no
await, no I/O) and a few worker tasks POST it, so a slow receiver holds up neither the turn
nor the other handoffs. Each delivery is retried with exponential backoff and jitter on
connection errors, timeouts, 5xx, 408 and 429 (a ``Retry-After`` is honoured, capped by
``max_backoff_s``); a 2xx is ``DELIVERED``, any other answer is ``FAILED`` at once, since
sending the same request again will not change it. The outcome of every delivery goes to a
:class:`DeliveryReport` (the durable store), so failures show in ``GET /admin/handoffs``.

The request, for receivers:

- body: the payload as compact JSON with sorted keys (UTF-8);
- ``X-Chatbot-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>``:
  the timestamp is signed, so a receiver refuses an old request replayed (:func:`verify`);
- ``X-Chatbot-Delivery: <handoff id>``: the same on every attempt; a retry after a 2xx that
  was lost on the way back delivers twice, so receivers de-duplicate on it;
- ``X-Chatbot-Attempt: <n>`` (from 1), ``Content-Type: application/json``, ``User-Agent``.

:meth:`WebhookDelivery.close` refuses new handoffs and lets the queued and in-flight ones
finish for up to ``timeout`` seconds (a graceful stop, SIGTERM), then cancels the workers and
reports what was not delivered as ``PENDING``. Call ``submit`` from the event loop's thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Protocol

import httpx
from prometheus_client import Counter
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from chatbot.store.records import HandoffStatus

log = logging.getLogger("chatbot.handoff")

SIGNATURE_HEADER = "X-Chatbot-Signature"
DELIVERY_HEADER = "X-Chatbot-Delivery"
ATTEMPT_HEADER = "X-Chatbot-Attempt"
USER_AGENT = "guarded-faq-chatbot (handoff webhook)"

# Recorded errors are shown to admins: keep them to one short line.
_ERROR_CHARS = 200

# Defined here, on the default registry, so chatbot.metrics needs no change to export them.
DELIVERED = Counter(
    "chatbot_handoff_delivered_total", "Handoffs the webhook accepted (answered 2xx)."
)
FAILED = Counter(
    "chatbot_handoff_failed_total",
    "Handoffs the webhook refused (4xx) or that failed on every attempt.",
)
DROPPED = Counter(
    "chatbot_handoff_dropped_total",
    "Handoffs not queued for delivery: the queue was full or closed.",
)


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The value of :data:`SIGNATURE_HEADER` for ``body`` sent at ``timestamp``."""
    return f"t={timestamp},v1={_digest(secret, body, timestamp)}"


def verify(
    secret: str, header: str, body: bytes, *, tolerance_s: int = 300, now: float | None = None
) -> bool:
    """Whether ``header`` (:data:`SIGNATURE_HEADER`) signs ``body`` with ``secret`` and its
    timestamp is within ``tolerance_s`` of ``now``. Never raises on a malformed header.
    Several ``v1=`` values are accepted (any one may match), so a sender can sign with an old
    and a new secret while the receiver rotates."""
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                return False
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        return False
    expected = _digest(secret, body, timestamp)
    # Compare with every candidate (no early exit), each in constant time.
    matches = [hmac.compare_digest(expected, candidate) for candidate in signatures]
    return any(matches)


def _digest(secret: str, body: bytes, timestamp: int) -> str:
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def encode_body(payload: Mapping[str, Any]) -> bytes:
    """The request body: the same payload always gives the same bytes (and signature)."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


class DeliveryReport(Protocol):
    """Where outcomes go: the durable store in the app, a recorder in tests."""

    async def delivery_result(
        self, handoff_id: str, status: HandoffStatus, attempts: int, error: str | None
    ) -> None: ...


class _Retryable(Exception):
    """An attempt that may succeed later; ``retry_after`` is the receiver's wish, if any."""

    def __init__(self, error: str, retry_after: float | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.retry_after = retry_after


class _Refused(Exception):
    """An answer that trying again will not change (a 4xx other than 408/429, a 3xx)."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


@dataclass(slots=True, eq=False)
class _Job:
    handoff_id: str
    body: bytes
    attempts: int = 0
    status: HandoffStatus = HandoffStatus.PENDING
    error: str | None = None


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """A ``Retry-After`` header as seconds from now (delta-seconds or an HTTP date)."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


class WebhookDelivery:
    """``async with WebhookDelivery(url, secret, store) as hooks: hooks.submit(id, {...})``."""

    def __init__(
        self,
        url: str,
        secret: str,
        report: DeliveryReport,
        *,
        attempts: int = 5,
        timeout: float = 10.0,
        backoff_s: float = 1.0,
        max_backoff_s: float = 60.0,
        queue_size: int = 1000,
        workers: int = 4,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        if attempts < 1 or queue_size < 1 or workers < 1:
            raise ValueError("attempts, queue_size and workers must be positive")
        if timeout <= 0 or backoff_s < 0 or max_backoff_s < 0:
            raise ValueError("timeout must be positive, backoffs not negative")
        if not secret:
            raise ValueError("a webhook needs a secret to sign with")
        self.url = url
        self.report = report
        self.attempts = attempts
        self.timeout = timeout
        self.max_backoff_s = max_backoff_s
        self.delivered = 0
        self.failed = 0
        self.dropped = 0
        self._secret = secret
        self._backoff = wait_exponential_jitter(
            multiplier=backoff_s, max=max_backoff_s, jitter=backoff_s
        )
        self._worker_count = workers
        self._owns_client = client is None
        self._client = client
        # None is a worker's stop signal, put by close() after every accepted handoff.
        self._queue: asyncio.Queue[_Job | None] = asyncio.Queue(queue_size)
        self._active: set[_Job] = set()
        self._workers: list[asyncio.Task[None]] = []
        self._closing = False

    @property
    def pending(self) -> int:
        """Handoffs accepted and not finished yet (queued or being delivered)."""
        return self._queue.qsize() + len(self._active)

    def start(self) -> None:
        """Start the workers (on the running loop); :meth:`submit` works before it too."""
        if self._workers:
            return
        if self._client is None:
            # Redirects are not followed: the signed request goes to the configured URL only.
            self._client = httpx.AsyncClient(follow_redirects=False)
        loop = asyncio.get_running_loop()
        self._workers = [
            loop.create_task(self._run(), name=f"handoff-webhook-{n}")
            for n in range(self._worker_count)
        ]

    def submit(self, handoff_id: str, payload: Mapping[str, Any]) -> bool:
        """Queue one handoff without waiting; ``False`` when it was dropped (and counted): it
        then stays ``PENDING`` in the store. A payload that is not JSON raises ``TypeError``."""
        body = encode_body(payload)  # now: the caller may change the mapping afterwards
        if self._closing:
            self._drop()
            return False
        try:
            self._queue.put_nowait(_Job(handoff_id, body))
        except asyncio.QueueFull:
            self._drop()
            return False
        return True

    async def close(self, timeout: float = 10.0) -> None:
        """Refuse new handoffs, deliver the queued ones for up to ``timeout`` seconds, then
        cancel the workers and report every handoff not delivered as ``PENDING`` (that report
        gets up to ``timeout`` seconds more)."""
        if self._closing:
            return
        self._closing = True
        self.start()
        try:
            await asyncio.wait_for(self._stop(), timeout)
        except TimeoutError:
            for task in self._workers:
                task.cancel()
            await asyncio.wait(self._workers)
            left = self._leftovers()
            log.warning("handoff webhook: closed after %ss with %d undelivered", timeout, len(left))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._report_all(left), timeout)
        finally:
            if self._owns_client and self._client is not None:
                await self._client.aclose()

    async def __aenter__(self) -> WebhookDelivery:
        self.start()
        return self

    async def __aexit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def _stop(self) -> None:
        for _ in self._workers:
            await self._queue.put(None)
        await asyncio.gather(*self._workers)

    def _leftovers(self) -> list[_Job]:
        left = list(self._active)
        self._active.clear()
        while True:
            try:
                job = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                break
            if job is not None:
                left.append(job)
        return left

    async def _report_all(self, jobs: list[_Job]) -> None:
        for job in jobs:
            # A job whose outcome was known but not yet reported keeps that outcome.
            if job.status is HandoffStatus.PENDING:
                job.error = "not delivered before shutdown"
            await self._report(job)

    def _drop(self) -> None:
        self.dropped += 1
        DROPPED.inc()

    async def _run(self) -> None:
        while True:
            job = await self._queue.get()
            if job is None:
                return
            self._active.add(job)
            await self._deliver(job)
            await self._report(job)
            self._active.discard(job)

    async def _deliver(self, job: _Job) -> None:
        # tenacity rather than a loop of our own: its stop/wait/retry parts say the policy in
        # one place, and the wait below only adds the receiver's Retry-After to it.
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.attempts),
            wait=self._wait,
            retry=retry_if_exception_type(_Retryable),
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    job.attempts = attempt.retry_state.attempt_number
                    await self._post(job)
        except (_Retryable, _Refused) as exc:
            job.status, job.error = HandoffStatus.FAILED, exc.error
        except Exception as exc:  # a bug or a bad URL: fail this handoff, keep the worker
            log.exception("handoff webhook: delivery of %s broke", job.handoff_id)
            job.status, job.error = HandoffStatus.FAILED, self._describe(exc)
        else:
            job.status, job.error = HandoffStatus.DELIVERED, None
        if job.status is HandoffStatus.DELIVERED:
            self.delivered += 1
            DELIVERED.inc()
        else:
            self.failed += 1
            FAILED.inc()
            log.warning(
                "handoff webhook: %s failed after %d attempts: %s",
                job.handoff_id,
                job.attempts,
                job.error,
            )

    async def _post(self, job: _Job) -> None:
        assert self._client is not None
        # Signed at each attempt, so a retry after a long backoff is not refused as stale.
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: sign(self._secret, job.body, int(time.time())),
            DELIVERY_HEADER: job.handoff_id,
            ATTEMPT_HEADER: str(job.attempts),
        }
        try:
            response = await self._client.post(
                self.url, content=job.body, headers=headers, timeout=self.timeout
            )
        except httpx.TransportError as exc:  # connection errors and timeouts
            raise _Retryable(self._describe(exc)) from None
        status = response.status_code
        if 200 <= status < 300:
            return
        error = f"HTTP {status}"
        if status >= 500 or status in (408, 429):
            raise _Retryable(error, retry_after_seconds(response.headers.get("Retry-After")))
        raise _Refused(error)

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, _Retryable) and exc.retry_after is not None:
            return min(exc.retry_after, self.max_backoff_s)
        return float(self._backoff(state))

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        log.info(
            "handoff webhook: attempt %d failed (%s), retrying in %.1fs",
            state.attempt_number,
            exc,
            state.upcoming_sleep,
        )

    def _describe(self, exc: BaseException) -> str:
        """Exception class and message, without the URL (it may carry a token) or secret."""
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        for secret in (self.url, self._secret):
            text = text.replace(secret, "[redacted]")
        return text[:_ERROR_CHARS]

    async def _report(self, job: _Job) -> None:
        try:
            await self.report.delivery_result(job.handoff_id, job.status, job.attempts, job.error)
        except Exception:  # the store being down must not stop deliveries
            log.exception("handoff webhook: outcome of %s not recorded", job.handoff_id)
