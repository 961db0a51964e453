"""The turn log: provenance records written off the response path.

A turn must not wait on the database, so :meth:`TurnLog.submit` only puts the record into a
bounded ``asyncio.Queue`` (no await, no I/O) and a background task writes batches (up to
``batch_size`` records, or what came within ``flush_ms`` of the first). When the queue is full
the record is dropped and counted (``dropped``, ``chatbot_turn_log_dropped_total``): a slow
database costs provenance, never latency. A failed write is retried once, then logged and
counted; the writer keeps going. :meth:`TurnLog.close` drains the queue, so nothing submitted
before it is lost on a graceful stop (SIGTERM). Call ``submit`` from the event loop's thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from types import TracebackType
from typing import Protocol

from prometheus_client import Counter

from chatbot.store.records import NewTurn

log = logging.getLogger("chatbot.store")

# Defined here, on the default registry, so chatbot.metrics needs no change to export them.
DROPPED = Counter(
    "chatbot_turn_log_dropped_total",
    "Turn records dropped before being written: the turn log's queue was full or closed.",
)
FAILED = Counter(
    "chatbot_turn_log_failed_total",
    "Turn records the turn log could not write to the durable store (after its retry).",
)
WRITTEN = Counter("chatbot_turn_log_written_total", "Turn records written to the durable store.")


class TurnWriter(Protocol):
    """What the turn log writes to: :class:`chatbot.store.DurableStore`, or a fake in tests."""

    async def add_turns(self, records: Sequence[NewTurn]) -> int: ...


class TurnLog:
    """``async with TurnLog(store) as turns: turns.submit(record)``."""

    def __init__(
        self,
        store: TurnWriter,
        *,
        maxsize: int = 10_000,
        batch_size: int = 200,
        flush_ms: float = 200.0,
        retry_delay_s: float = 0.2,
    ) -> None:
        if maxsize < 1 or batch_size < 1 or flush_ms < 0 or retry_delay_s < 0:
            raise ValueError("maxsize and batch_size must be positive, delays not negative")
        self.store = store
        self.batch_size = batch_size
        self.flush_seconds = flush_ms / 1000
        self.retry_delay_s = retry_delay_s
        self.dropped = 0
        self.failed = 0
        self.written = 0
        self._accepted = 0
        self._abandoned = 0
        # None is the writer's stop signal, put by close() after every accepted record.
        self._queue: asyncio.Queue[NewTurn | None] = asyncio.Queue(maxsize)
        self._more = asyncio.Event()
        self._wanted = 0
        self._closing = False
        self._task: asyncio.Task[None] | None = None

    @property
    def pending(self) -> int:
        """Records accepted and neither written nor given up on yet."""
        return self._accepted - self.written - self.failed - self._abandoned

    def start(self) -> None:
        """Start the writer task (on the running loop); :meth:`submit` works before it too."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="turn-log")

    def submit(self, record: NewTurn) -> bool:
        """Queue one record without waiting; ``False`` when it was dropped (and counted)."""
        if self._closing:
            self._drop(1)
            return False
        try:
            self._queue.put_nowait(record)
        except asyncio.QueueFull:
            self._drop(1)
            return False
        self._accepted += 1
        if self._wanted and self._queue.qsize() >= self._wanted:
            self._more.set()
        return True

    async def close(self, timeout: float | None = None) -> None:
        """Refuse new records, write every queued one, then stop the writer. After
        ``timeout`` seconds the writer is cancelled and what is left counts as dropped."""
        if self._closing:
            return
        self._closing = True
        self._more.set()
        self.start()
        assert self._task is not None
        try:
            await asyncio.wait_for(self._stop(self._task), timeout)
        except TimeoutError:
            self._task.cancel()
            await asyncio.wait([self._task])
            lost = self.pending
            self._abandoned += lost
            self._drop(lost)
            log.warning("turn log: closed after %ss with %d records unwritten", timeout, lost)

    async def __aenter__(self) -> TurnLog:
        self.start()
        return self

    async def __aexit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def _stop(self, task: asyncio.Task[None]) -> None:
        await self._queue.put(None)
        await task

    def _drop(self, count: int) -> None:
        if count > 0:
            self.dropped += count
            DROPPED.inc(count)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is None:
                return
            batch = [first]
            deadline = loop.time() + self.flush_seconds
            while True:
                stopping = self._take(batch)
                remaining = deadline - loop.time()
                if stopping or self._closing or len(batch) >= self.batch_size or remaining <= 0:
                    break
                # Wait for the rest of a batch, or the flush time, whichever comes first.
                self._wanted = self.batch_size - len(batch)
                self._more.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._more.wait(), remaining)
                self._wanted = 0
            await self._write(batch)

    def _take(self, batch: list[NewTurn]) -> bool:
        """Move queued records into ``batch`` up to its size; ``True`` at the stop signal."""
        while len(batch) < self.batch_size:
            try:
                record = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                return False
            if record is None:
                return True
            batch.append(record)
        return False

    async def _write(self, batch: list[NewTurn]) -> None:
        try:
            try:
                await self.store.add_turns(batch)
            except Exception:
                # add_turns skips message ids already stored: writing again is safe.
                await asyncio.sleep(self.retry_delay_s)
                await self.store.add_turns(batch)
        except Exception:
            self.failed += len(batch)
            FAILED.inc(len(batch))
            log.exception("turn log: %d records not written", len(batch))
        else:
            self.written += len(batch)
            WRITTEN.inc(len(batch))
