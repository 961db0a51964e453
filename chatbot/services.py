"""The long-lived clients of one API process, opened once and closed in ``finally``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from chatbot import nemo, prompt
from chatbot.desk import HandoffDesk
from chatbot.errors import DurableStoreUnavailableError
from chatbot.generation.client import TritonGenerator
from chatbot.guard import Guardrails
from chatbot.handoff import WebhookDelivery
from chatbot.pipeline import ChatPipeline
from chatbot.provenance import Provenance
from chatbot.sessions import MemorySessionStore, RedisSessionStore, SessionStore
from chatbot.settings import Settings
from chatbot.store import DurableStore, TurnLog
from ingest.embeddings import Embedder
from ingest.errors import IngestError, IngestLockedError
from ingest.search import Retriever
from rails.output import Policy

log = logging.getLogger("chatbot")
# NeMo Guardrails logs every Colang event at INFO; warnings are what an operator needs.
logging.getLogger("nemoguardrails").setLevel(logging.WARNING)


PURGE_EVERY_S = 6 * 3600


async def _purge(store: DurableStore, retention_days: int) -> None:
    purged = await store.purge_expired(retention_days)
    if purged.total:
        log.info("durable store: %d rows past retention purged", purged.total)


async def _purge_periodically(store: DurableStore, retention_days: int) -> None:
    """Retention also applies to an API that runs for months without a restart."""
    while True:
        await asyncio.sleep(PURGE_EVERY_S)
        try:
            await _purge(store, retention_days)
        except DurableStoreUnavailableError as exc:
            log.warning("retention purge failed, tried again later: %s", exc)


@dataclass
class Services:
    settings: Settings
    embedder: Embedder
    retriever: Retriever
    generator: TritonGenerator
    sessions: SessionStore
    guard: Guardrails
    pipeline: ChatPipeline
    store: DurableStore
    turn_log: TurnLog
    handoffs: HandoffDesk
    ingest_lock: asyncio.Lock

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, settings: Settings) -> AsyncIterator[Services]:
        embedder = await asyncio.to_thread(Embedder, settings.embedding())
        retriever = Retriever(settings.index_dir, embedder, settings.search())
        generator = TritonGenerator(
            settings.triton_url,
            dialect=settings.triton_dialect,
            tokenizer=settings.tokenizer,
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
        )
        sessions: SessionStore = (
            RedisSessionStore(
                settings.redis_url,
                max_turns=settings.session_max_turns,
                ttl_seconds=settings.session_ttl_seconds,
            )
            if settings.redis_url
            else MemorySessionStore(
                max_turns=settings.session_max_turns, ttl_seconds=settings.session_ttl_seconds
            )
        )
        # Process-wide, before the rails are made: NeMo's runtime as the settings say.
        closing = contextlib.AsyncExitStack()
        closing.enter_context(nemo.serving(() if settings.nemo_runtime == "stock" else nemo.ALL))
        try:
            store = await DurableStore.connect(settings.database_url)
            closing.push_async_callback(store.close)
            await _purge(store, settings.retention_days)
            purging = asyncio.create_task(_purge_periodically(store, settings.retention_days))
            closing.callback(purging.cancel)
            # Closed before the store: every turn accepted before shutdown is written.
            turn_log = await closing.enter_async_context(
                TurnLog(store, maxsize=settings.turn_log_queue)
            )
            delivery = None
            if settings.handoff_webhook_url and settings.handoff_webhook_secret:
                # Closed before the store too: deliveries still running report their outcome.
                delivery = await closing.enter_async_context(
                    WebhookDelivery(
                        settings.handoff_webhook_url,
                        settings.handoff_webhook_secret,
                        store,
                        attempts=settings.handoff_attempts,
                        timeout=settings.handoff_timeout,
                    )
                )
            handoffs = HandoffDesk(store, delivery, settings.support_contact)
            await handoffs.resume()
            policy = Policy(
                system_prompt=prompt.system(settings.bot_name),
                canary=prompt.CANARY,
                secrets=(*settings.api_keys, *settings.admin_keys),
            )
            main_model = {
                "url": settings.triton_url,
                "dialect": settings.triton_dialect,
                "tokenizer": str(settings.tokenizer) if settings.tokenizer else None,
            }
            guard = await asyncio.to_thread(
                Guardrails,
                settings.rails_path(),
                embedder,
                policy,
                main_model,
                bot_name=settings.bot_name,
            )
            await guard.warm_up()
            # Load the tokenizer (chat template) now rather than in the first turn.
            await asyncio.to_thread(lambda: generator.tokenizer)
            pipeline = ChatPipeline(
                settings=settings,
                sessions=sessions,
                guard=guard,
                retriever=retriever,
                generator=generator,
                turn_log=turn_log,
                handoffs=handoffs,
                provenance=Provenance(
                    prompt_version=prompt.VERSION,
                    engine_dialect=settings.triton_dialect,
                    engine_model=getattr(generator.tokenizer, "name_or_path", None),
                ),
            )
            yield cls(
                settings=settings,
                embedder=embedder,
                retriever=retriever,
                generator=generator,
                sessions=sessions,
                guard=guard,
                pipeline=pipeline,
                store=store,
                turn_log=turn_log,
                handoffs=handoffs,
                ingest_lock=asyncio.Lock(),
            )
        finally:
            await closing.aclose()
            await sessions.close()
            await generator.close()

    @contextlib.asynccontextmanager
    async def exclusive_ingest(self) -> AsyncIterator[None]:
        """One ingest at a time per process: a second one is refused (409), not queued."""
        if self.ingest_lock.locked():
            raise IngestLockedError("an ingest is already running")
        async with self.ingest_lock:
            yield

    async def readiness(self) -> dict[str, Any]:
        """Each dependency's state; the API is ready when all are."""
        triton = await self.generator.ready()
        sessions = await self.sessions.ping()
        store = await self.store.ping()
        try:
            index = await asyncio.to_thread(lambda: self.retriever.index.version)
        except IngestError as exc:
            log.warning("index not ready: %s", exc)
            index = None
        return {
            "triton": triton,
            "session_store": sessions,
            "durable_store": store,
            "index": index is not None,
            "index_version": index,
        }
