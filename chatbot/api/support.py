"""``/admin/gaps``, ``/admin/faq`` and ``/admin/handoffs``: the support team's loop.

A gap is a group of questions the FAQ did not answer (:mod:`chatbot.curation`). Answering one
(``POST /admin/faq`` with its ``gap_id``) stores the entry, writes the admin FAQ file and
publishes a new index version through the regression gate, in the ingest's lock; from then
on a customer who asks the same gets the entry as a curated answer, and the gap's turns are
marked answered. A refused gate takes the change back and answers 409 with the gate's figures
(``force=true`` publishes anyway). Edits and deletions publish the same way.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from litestar import Controller, Response, delete, get, post, put, route
from litestar.params import Parameter
from pydantic import BaseModel, ConfigDict, Field

from chatbot import curation
from chatbot.api.openapi import ADMIN, JSON_BODY, LIMITED, problem_responses
from chatbot.api.security import admin_key_guard
from chatbot.api.turns import Before, Limit, Since, moment
from chatbot.errors import GateRefusedError, NotFoundError
from chatbot.gaps import Gap
from chatbot.ingesting import ingest_paths
from chatbot.services import Services
from chatbot.store import FaqEntry, HandoffOut, HandoffStatus
from chatbot.store.records import utcnow
from chatbot.turn import NOT_BLANK
from ingest.pipeline import IngestSummary

_PUBLISH = (*ADMIN, 409, 422, 503, *LIMITED)
EntryId = Annotated[str, Parameter(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class GapView(BaseModel):
    id: str
    """Stable while the gap grows: the message id of its first turn."""
    size: int
    first_seen: datetime
    last_seen: datetime
    reasons: dict[str, int]
    """Turns per reason: abstain, retracted, withheld, handoff, thumbs_down."""
    examples: list[str]
    """Distinct questions as masked, the most typical first."""
    message_ids: list[str]
    answered_by_entry: str | None
    """The admin FAQ entry that answered it (answered gaps)."""


class GapPage(BaseModel):
    gaps: list[GapView]
    turns_considered: int
    similarity: float


class FaqEntryIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    question: str = Field(min_length=1, max_length=500, pattern=NOT_BLANK)
    answer: str = Field(min_length=1, max_length=5000, pattern=NOT_BLANK)
    category: str | None = Field(default=None, max_length=200)


class NewFaqEntryIn(FaqEntryIn):
    gap_id: str | None = Field(default=None, min_length=1, max_length=64)
    """The open gap this entry answers."""


class FaqEntryView(BaseModel):
    id: str
    question: str
    answer: str
    category: str | None
    gap_id: str | None
    created_at: datetime
    updated_at: datetime


class FaqEntries(BaseModel):
    entries: list[FaqEntryView]


class Published(BaseModel):
    entry: FaqEntryView | None
    ingest: dict[str, Any]
    """The ingest summary of the version published (with the gate's figures)."""


class TranscriptLine(BaseModel):
    role: Literal["customer", "assistant"]
    text: str


class HandoffView(BaseModel):
    id: str
    session_id: str
    message_id: str
    about: str | None
    """The turn the customer asked about before asking for a person."""
    created_at: datetime
    status: HandoffStatus
    attempts: int
    last_error: str | None
    delivered_at: datetime | None
    transcript: list[TranscriptLine]
    sources: list[dict[str, Any]]


class HandoffPage(BaseModel):
    handoffs: list[HandoffView]
    next_before: datetime | None


def _gap_view(gap: Gap, entry: str | None) -> GapView:
    return GapView(
        id=gap.id,
        size=gap.size,
        first_seen=gap.first_seen,
        last_seen=gap.last_seen,
        reasons={str(k): v for k, v in gap.reasons.items()},
        examples=list(gap.examples),
        message_ids=list(gap.message_ids),
        answered_by_entry=entry,
    )


def _entry_view(entry: FaqEntry) -> FaqEntryView:
    return FaqEntryView.model_validate(dataclasses.asdict(entry))


def _handoff_view(handoff: HandoffOut) -> HandoffView:
    return HandoffView.model_validate(dataclasses.asdict(handoff))


async def _publish(services: Services, force: bool) -> IngestSummary:
    """Write the admin FAQ file from the store and publish it (the caller holds the lock);
    with no entries left there is no file, and the served document is removed."""
    settings = services.settings
    file = settings.admin_faq_file
    entries = await services.store.list_faq_entries()
    await asyncio.to_thread(curation.write_admin_faq, file, entries, settings.chunking().columns)
    return await asyncio.to_thread(
        ingest_paths,
        settings,
        [file] if entries else [],
        full=False,
        dry_run=False,
        force=force,
        keep_unlisted=True,
        remove=() if entries else (file.name,),
    )


async def _undo(services: Services, undo: Any) -> None:
    await undo()
    await asyncio.to_thread(
        curation.write_admin_faq,
        services.settings.admin_faq_file,
        await services.store.list_faq_entries(),
        services.settings.chunking().columns,
    )


async def _publish_or_undo(services: Services, force: bool, undo: Any) -> IngestSummary:
    """Publish; when the gate refuses, run ``undo`` (a coroutine function putting the store
    back), write the file again, and answer 409 with the gate's figures."""
    try:
        summary = await _publish(services, force)
    except BaseException:
        await _undo(services, undo)
        raise
    if summary.gate is not None and not summary.gate.passed and not summary.published:
        await _undo(services, undo)
        raise GateRefusedError(
            "the regression gate kept this change from going live; nothing changed "
            "(force=true publishes it anyway)",
            summary.gate.to_json(),
        )
    return summary


class SupportController(Controller):
    path = "/admin"
    guards = [admin_key_guard]  # noqa: RUF012
    tags = ["admin"]  # noqa: RUF012

    @get(
        "/gaps",
        summary="Questions the FAQ did not answer, grouped by what was asked, largest first",
        responses=problem_responses(400, *ADMIN, 503, *LIMITED),
    )
    async def gaps(
        self,
        services: Services,
        status: Literal["open", "answered"] = "open",
        since: Since = None,
        limit: Limit = 100,
    ) -> GapPage:
        found, entries, considered = await curation.find_gaps(
            services.store,
            services.settings.gap_similarity,
            answered=status == "answered",
            since=moment("since", since),
        )
        return GapPage(
            gaps=[_gap_view(g, entries.get(g.id)) for g in found[:limit]],
            turns_considered=considered,
            similarity=services.settings.gap_similarity,
        )

    # Litestar 2 answers OPTIONS on a path with several handlers with the methods of the one
    # registered first (litestar-org/litestar#4169, as in chatbot.api.sessions): these
    # handlers, named to sort first, answer it for the two shared paths.
    @route("/faq", http_method="OPTIONS", include_in_schema=False)
    async def _allow_faq(self) -> Response[None]:
        return Response(None, status_code=204, headers={"Allow": "GET, OPTIONS, POST"})

    @route("/faq/{entry_id:str}", http_method="OPTIONS", include_in_schema=False)
    async def _allow_entry(self, entry_id: str) -> Response[None]:
        return Response(None, status_code=204, headers={"Allow": "DELETE, OPTIONS, PUT"})

    @get(
        "/faq",
        summary="The FAQ entries admins wrote",
        responses=problem_responses(*ADMIN, 503, *LIMITED),
    )
    async def entries(self, services: Services) -> FaqEntries:
        found = await services.store.list_faq_entries()
        return FaqEntries(entries=[_entry_view(e) for e in found])

    @post(
        "/faq",
        status_code=201,
        summary="Add an FAQ entry (answering a gap) and publish it through the regression gate",
        responses=problem_responses(*JSON_BODY, 404, *_PUBLISH),
    )
    async def add(self, data: NewFaqEntryIn, services: Services, force: bool = False) -> Published:
        store = services.store
        members: tuple[str, ...] = ()
        if data.gap_id is not None:
            open_gaps, _, _ = await curation.find_gaps(store, services.settings.gap_similarity)
            gap = next((g for g in open_gaps if g.id == data.gap_id), None)
            if gap is None:
                raise NotFoundError(f"no open gap {data.gap_id}")
            members = gap.message_ids
        now = utcnow()
        entry = FaqEntry(
            id=f"{curation.ADMIN_SOURCE_PREFIX}{uuid.uuid4().hex[:16]}",
            question=data.question.strip(),
            answer=data.answer.strip(),
            category=(data.category or "").strip() or None,
            gap_id=data.gap_id,
            created_at=now,
            updated_at=now,
        )
        async with services.exclusive_ingest():
            await store.add_faq_entry(entry)

            async def undo() -> None:
                await store.delete_faq_entry(entry.id)

            summary = await _publish_or_undo(services, force, undo)
        if members:
            await store.answer_gap(members, entry.id)
        return Published(entry=_entry_view(entry), ingest=summary.to_json())

    @put(
        "/faq/{entry_id:str}",
        summary="Change an admin FAQ entry and publish it through the regression gate",
        responses=problem_responses(*JSON_BODY, 404, *_PUBLISH),
    )
    async def change(
        self, entry_id: EntryId, data: FaqEntryIn, services: Services, force: bool = False
    ) -> Published:
        store = services.store
        async with services.exclusive_ingest():
            before = await store.get_faq_entry(entry_id)
            if before is None:
                raise NotFoundError(f"no admin FAQ entry {entry_id}")
            after = dataclasses.replace(
                before,
                question=data.question.strip(),
                answer=data.answer.strip(),
                category=(data.category or "").strip() or None,
                updated_at=utcnow(),
            )
            await store.update_faq_entry(after)

            async def undo() -> None:
                await store.update_faq_entry(before)

            summary = await _publish_or_undo(services, force, undo)
        return Published(entry=_entry_view(after), ingest=summary.to_json())

    @delete(
        "/faq/{entry_id:str}",
        status_code=200,
        summary="Delete an admin FAQ entry and publish the index without it",
        responses=problem_responses(400, 404, *_PUBLISH),
    )
    async def remove(self, entry_id: EntryId, services: Services, force: bool = False) -> Published:
        store = services.store
        async with services.exclusive_ingest():
            before = await store.get_faq_entry(entry_id)
            if before is None:
                raise NotFoundError(f"no admin FAQ entry {entry_id}")
            await store.delete_faq_entry(entry_id)

            async def undo() -> None:
                await store.add_faq_entry(before)

            summary = await _publish_or_undo(services, force, undo)
        return Published(entry=None, ingest=summary.to_json())

    @get(
        "/handoffs",
        summary="Conversations passed to a person, newest first, with their delivery",
        responses=problem_responses(400, *ADMIN, 503, *LIMITED),
    )
    async def handoffs(
        self,
        services: Services,
        status: HandoffStatus | None = None,
        since: Since = None,
        before: Before = None,
        limit: Limit = 100,
    ) -> HandoffPage:
        found = await services.store.list_handoffs(
            status=status,
            since=moment("since", since),
            before=moment("before", before),
            limit=limit,
        )
        last = found[-1].created_at if len(found) == limit else None
        return HandoffPage(handoffs=[_handoff_view(h) for h in found], next_before=last)
