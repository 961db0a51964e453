"""Session memory: the last turns of each conversation, behind one interface.

Two implementations pass the same contract tests: Redis (shared by API replicas; a bounded
list per session, appended atomically with its trim and TTL in one MULTI/EXEC) and memory
(one process, for ``chatbot up`` without Redis). Stored text is what the pipeline hands in,
already PII-masked; the store never sees raw user input.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from chatbot.errors import InvalidSessionIdError, NotFoundError, SessionStoreUnavailableError

_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")


def new_session_id() -> str:
    return uuid.uuid4().hex


def check_session_id(session_id: str) -> str:
    if not _SESSION_ID.fullmatch(session_id):
        raise InvalidSessionIdError("session ids are 8-64 letters, digits, '-' or '_'")
    return session_id


@dataclass(frozen=True)
class Turn:
    """One exchange, as stored: masked user text, the answer and what produced it."""

    user: str
    assistant: str
    message_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created_at: float = field(default_factory=time.time)
    citations: list[dict[str, Any]] = field(default_factory=list)
    guardrails: dict[str, Any] = field(default_factory=dict)
    timings_ms: dict[str, float] = field(default_factory=dict)
    answered_by: str = "model"
    """``model``, ``curated`` (a FAQ answer as written), ``rails`` (a dialog flow) or
    ``abstain`` (nothing relevant found)."""

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, data: str | bytes) -> Turn:
        return cls(**json.loads(data))


@runtime_checkable
class SessionStore(Protocol):
    max_turns: int

    async def history(self, session_id: str, limit: int | None = None) -> list[Turn]:
        """The last ``limit`` turns (all kept ones by default), oldest first."""

    async def append(self, session_id: str, turn: Turn) -> Turn:
        """Add a turn, drop the oldest beyond ``max_turns``, refresh the TTL."""

    async def delete(self, session_id: str) -> bool:
        """Erase a session; False if there was none."""

    async def feedback(self, session_id: str, message_id: str, record: dict[str, Any]) -> None:
        """Keep feedback on one answer of the session (the latest wins); ``NotFoundError`` when
        the session has no such message."""

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...


class MemorySessionStore:
    """In-process store; state is lost on restart and not shared between processes."""

    def __init__(self, *, max_turns: int = 20, ttl_seconds: float = 86_400) -> None:
        self.max_turns = max_turns
        self.ttl = ttl_seconds
        self._sessions: dict[str, tuple[float, deque[Turn]]] = {}
        self._feedback: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = asyncio.Lock()

    def _live(self, session_id: str) -> deque[Turn] | None:
        entry = self._sessions.get(check_session_id(session_id))
        if entry is None:
            return None
        if entry[0] < time.monotonic():
            del self._sessions[session_id]
            return None
        return entry[1]

    async def history(self, session_id: str, limit: int | None = None) -> list[Turn]:
        async with self._lock:
            turns = list(self._live(session_id) or ())
        return turns[-limit:] if limit else turns

    async def append(self, session_id: str, turn: Turn) -> Turn:
        async with self._lock:
            turns = self._live(session_id) or deque(maxlen=self.max_turns)
            turns.append(turn)
            self._sessions[session_id] = (time.monotonic() + self.ttl, turns)
        return turn

    async def delete(self, session_id: str) -> bool:
        async with self._lock:
            return self._live(session_id) is not None and bool(self._sessions.pop(session_id, None))

    async def feedback(self, session_id: str, message_id: str, record: dict[str, Any]) -> None:
        async with self._lock:
            turns = self._live(session_id)
            if not turns or all(t.message_id != message_id for t in turns):
                raise NotFoundError(f"no message {message_id} in session {session_id}")
            self._feedback[(session_id, message_id)] = record

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        self._sessions.clear()
        self._feedback.clear()


class RedisSessionStore:
    """One Redis list per session (``<prefix><id>``), newest turn last."""

    def __init__(
        self,
        url: str,
        *,
        max_turns: int = 20,
        ttl_seconds: int = 86_400,
        prefix: str = "chatbot:session:",
    ) -> None:
        self.max_turns = max_turns
        self.ttl = ttl_seconds
        self.prefix = prefix
        self._redis: Redis = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)

    def _key(self, session_id: str) -> str:
        return self.prefix + check_session_id(session_id)

    async def history(self, session_id: str, limit: int | None = None) -> list[Turn]:
        start = -limit if limit else 0
        try:
            raw = await self._redis.lrange(self._key(session_id), start, -1)  # type: ignore[misc]  # redis-py types sync|async as one union
        except RedisError as exc:
            raise SessionStoreUnavailableError(f"Redis: {exc}") from exc
        return [Turn.from_json(item) for item in raw]

    async def append(self, session_id: str, turn: Turn) -> Turn:
        key = self._key(session_id)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.rpush(key, turn.to_json())
                pipe.ltrim(key, -self.max_turns, -1)
                pipe.expire(key, self.ttl)
                await pipe.execute()
        except RedisError as exc:
            raise SessionStoreUnavailableError(f"Redis: {exc}") from exc
        return turn

    async def delete(self, session_id: str) -> bool:
        key = self._key(session_id)
        try:
            return bool(await self._redis.delete(key, f"{key}:feedback"))
        except RedisError as exc:
            raise SessionStoreUnavailableError(f"Redis: {exc}") from exc

    async def feedback(self, session_id: str, message_id: str, record: dict[str, Any]) -> None:
        turns = await self.history(session_id)
        if all(t.message_id != message_id for t in turns):
            raise NotFoundError(f"no message {message_id} in session {session_id}")
        key = f"{self.prefix}{session_id}:feedback"
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hset(key, message_id, json.dumps(record, ensure_ascii=False))
                pipe.expire(key, self.ttl)
                await pipe.execute()
        except RedisError as exc:
            raise SessionStoreUnavailableError(f"Redis: {exc}") from exc

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())  # type: ignore[misc]
        except RedisError:
            return False

    async def close(self) -> None:
        await self._redis.aclose()
