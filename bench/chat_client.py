"""The benchmarks' HTTP client of the chat API (``bench/chat.py``, ``bench/defence.py``): one
turn, one streamed turn, a session's stored text, and what a failed request means."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from httpx_sse import EventSource

from chatbot.stack import wait_ready


class BenchError(Exception):
    """The benchmark cannot go on (the stack failed or answered with an error)."""


class TurnFailed(BenchError):
    """One turn failed on the server's side (5xx, or an ``error`` event): counted, not fatal."""


@dataclass(frozen=True)
class TurnSample:
    answered_by: str
    timings: dict[str, float]
    wall_ms: float
    """Client time from sending the request to the complete answer."""
    result: dict[str, Any]
    first_token_ms: float | None = None
    """Streamed turns: client time from sending the request to the first ``token`` event."""


@dataclass(frozen=True)
class Stack:
    url: str
    api_key: str | None
    triton_url: str | None
    alive: Callable[[], bool] = lambda: True
    """False once a child API process has exited."""
    api_pid: int | None = None
    """A started API's process (its CPU time is read from /proc)."""
    engine_pid: int | None = None
    """A started Triton server's process, which leads the group its model stubs run in."""


class ChatClient:
    def __init__(self, url: str, api_key: str | None, timeout: float) -> None:
        self.url = url
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = httpx.AsyncClient(
            base_url=url,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=10.0),
            limits=httpx.Limits(max_connections=512, max_keepalive_connections=512),
        )

    async def close(self) -> None:
        await self.http.aclose()

    @staticmethod
    def _problem(text: str) -> str:
        with contextlib.suppress(ValueError, AttributeError):
            problem = json.loads(text)
            return str(problem.get("title") or problem.get("detail") or "")
        return text[:200]

    def _fail(self, response: httpx.Response) -> BenchError:
        status = response.status_code
        where = f"{response.request.method} {response.request.url.path}: HTTP {status}"
        if status >= 500:
            return TurnFailed(f"HTTP {status} {self._problem(response.text)}".rstrip())
        hint = {
            401: " (give the API key with --api-key)",
            429: " (rate limited: raise CHATBOT_RATE_LIMIT_PER_MINUTE on the server)",
        }.get(status, "")
        return BenchError(f"{where}{hint} {response.text[:400]}".rstrip())

    @staticmethod
    def _body(message: str, session_id: str | None, max_tokens: int | None) -> dict[str, Any]:
        body: dict[str, Any] = {"message": message}
        if session_id:
            body["session_id"] = session_id
        if max_tokens:
            body["max_tokens"] = max_tokens
        return body

    async def turn(
        self, message: str, session_id: str | None = None, max_tokens: int | None = None
    ) -> TurnSample:
        start = time.perf_counter()
        response = await self.http.post(
            "/v1/chat", json=self._body(message, session_id, max_tokens)
        )
        wall = (time.perf_counter() - start) * 1000
        if response.status_code != 200:
            raise self._fail(response)
        result: dict[str, Any] = response.json()
        return TurnSample(result["answered_by"], result["timings_ms"], wall, result)

    async def stream_turn(
        self, message: str, session_id: str | None = None, max_tokens: int | None = None
    ) -> TurnSample:
        body = self._body(message, session_id, max_tokens)
        first: float | None = None
        result: dict[str, Any] | None = None
        start = time.perf_counter()
        async with self.http.stream("POST", "/v1/chat/stream", json=body) as response:
            if response.status_code != 200:
                await response.aread()
                raise self._fail(response)
            async for event in EventSource(response).aiter_sse():
                if event.event == "token" and first is None:
                    first = (time.perf_counter() - start) * 1000
                elif event.event == "done":
                    result = json.loads(event.data)
                elif event.event == "error":
                    raise TurnFailed(f"error event: {self._problem(event.data)}")
        wall = (time.perf_counter() - start) * 1000
        if result is None:
            raise BenchError("the stream ended without a done event")
        return TurnSample(result["answered_by"], result["timings_ms"], wall, result, first)

    async def stored_user_text(self, session_id: str) -> str:
        """The last user message as the pipeline saw it (after PII masking)."""
        response = await self.http.get(f"/v1/sessions/{session_id}")
        if response.status_code != 200:
            raise self._fail(response)
        turns: list[dict[str, Any]] = response.json()["turns"]
        return str(turns[-1]["user"])

    async def wait_ready(self, timeout: float, alive: Callable[[], bool]) -> None:
        """Until the API is ready (the launcher's poll, off the event loop)."""
        await asyncio.to_thread(wait_ready, self.url, timeout, alive)
