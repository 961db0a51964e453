"""TurnLog against a fake store: bounded queue and counted drops, batching, drain on close,
failed writes counted and survived. (The real store end to end: tests/integration.)"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Sequence

import pytest
from prometheus_client import REGISTRY

from chatbot.store import NewTurn, TurnLog


class FakeStore:
    """Collects batches; can fail its first calls or hold writes until ``gate`` opens."""

    def __init__(self, fail: int = 0, gate: asyncio.Event | None = None) -> None:
        self.fail = fail
        self.gate = gate
        self.batches: list[list[NewTurn]] = []
        self.calls = 0

    async def add_turns(self, records: Sequence[NewTurn]) -> int:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.fail > 0:
            self.fail -= 1
            raise RuntimeError("database down")
        self.batches.append(list(records))
        return len(records)

    @property
    def ids(self) -> list[str]:
        return [r.message_id for batch in self.batches for r in batch]


def turn(i: int) -> NewTurn:
    return NewTurn(
        message_id=f"m{i:06d}",
        session_id="session-1",
        question="q",
        answer="a",
        answered_by="model",
    )


def metric(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


def test_submit_is_not_a_coroutine() -> None:
    assert not inspect.iscoroutinefunction(TurnLog.submit)


def test_full_queue_drops_and_counts() -> None:
    async def main() -> None:
        store = FakeStore()
        turns = TurnLog(store, maxsize=3)
        before = metric("chatbot_turn_log_dropped_total")
        accepted = [turns.submit(turn(i)) for i in range(10)]
        assert accepted == [True] * 3 + [False] * 7
        assert turns.dropped == 7
        assert metric("chatbot_turn_log_dropped_total") - before == 7
        await turns.close()
        assert store.ids == [f"m{i:06d}" for i in range(3)]
        assert turns.written == 3

    asyncio.run(main())


def test_close_drains_everything_in_order_and_then_refuses() -> None:
    async def main() -> None:
        store = FakeStore()
        async with TurnLog(store, batch_size=7, flush_ms=60_000) as turns:
            for i in range(50):
                assert turns.submit(turn(i))
        assert store.ids == [f"m{i:06d}" for i in range(50)]
        assert all(len(batch) <= 7 for batch in store.batches)
        assert turns.pending == 0 and turns.written == 50
        assert not turns.submit(turn(99))
        assert turns.dropped == 1

    asyncio.run(main())


def test_a_full_batch_is_written_without_waiting_for_the_flush_time() -> None:
    async def main() -> None:
        store = FakeStore()
        turns = TurnLog(store, batch_size=5, flush_ms=60_000)
        turns.start()
        await asyncio.sleep(0)
        for i in range(5):
            turns.submit(turn(i))
        for _ in range(100):
            if store.batches:
                break
            await asyncio.sleep(0.01)
        assert [len(b) for b in store.batches] == [5]
        await turns.close()

    asyncio.run(main())


def test_a_partial_batch_is_written_after_the_flush_time() -> None:
    async def main() -> None:
        store = FakeStore()
        turns = TurnLog(store, batch_size=100, flush_ms=20)
        turns.start()
        for i in range(3):
            turns.submit(turn(i))
        for _ in range(100):
            if store.batches:
                break
            await asyncio.sleep(0.01)
        assert [len(b) for b in store.batches] == [3]
        await turns.close()

    asyncio.run(main())


def test_a_failing_write_is_counted_and_not_fatal() -> None:
    async def main() -> None:
        store = FakeStore(fail=2)  # the first batch fails, and so does its retry
        before = metric("chatbot_turn_log_failed_total")
        turns = TurnLog(store, batch_size=3, flush_ms=60_000, retry_delay_s=0)
        turns.start()
        for i in range(3):
            turns.submit(turn(i))
        for _ in range(100):
            if turns.failed:
                break
            await asyncio.sleep(0.01)
        assert turns.failed == 3
        assert metric("chatbot_turn_log_failed_total") - before == 3
        for i in range(3, 5):
            assert turns.submit(turn(i))
        await turns.close()
        assert store.ids == ["m000003", "m000004"]
        assert turns.written == 2

    asyncio.run(main())


def test_a_transient_failure_is_retried() -> None:
    async def main() -> None:
        store = FakeStore(fail=1)
        async with TurnLog(store, retry_delay_s=0) as turns:
            turns.submit(turn(1))
        assert store.ids == ["m000001"]
        assert (turns.failed, turns.written, store.calls) == (0, 1, 2)

    asyncio.run(main())


def test_close_with_a_timeout_counts_what_it_could_not_write() -> None:
    async def main() -> None:
        store = FakeStore(gate=asyncio.Event())  # the database never answers
        turns = TurnLog(store, batch_size=2, flush_ms=0)
        turns.start()
        for i in range(5):
            turns.submit(turn(i))
        await turns.close(timeout=0.05)
        assert turns.written == 0
        assert turns.dropped == 5

    asyncio.run(main())


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError):
        TurnLog(FakeStore(), maxsize=0)
    with pytest.raises(ValueError):
        TurnLog(FakeStore(), batch_size=0)
