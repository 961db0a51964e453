"""``/admin/turns`` and ``/admin/feedback``: what the bot answered and how customers rated it,
read from the durable store (provenance records outlive sessions; text is PII-masked)."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Annotated

from litestar import Controller, get
from litestar.params import Parameter

from chatbot.api.openapi import ADMIN, LIMITED, problem_responses
from chatbot.api.schemas import (
    SESSION_ID_PATTERN,
    FeedbackPage,
    FeedbackView,
    TurnPage,
    TurnRecordView,
)
from chatbot.api.security import admin_key_guard
from chatbot.errors import InvalidRequestError, NotFoundError
from chatbot.policy import AnsweredBy
from chatbot.services import Services
from chatbot.store import Rating, TurnRecordOut

Limit = Annotated[int, Parameter(ge=1, le=500, description="at most this many, newest first")]
# Date-times as RFC 3339 text, checked here: Litestar would also read a number as a Unix time,
# which the schema does not admit.
_MOMENT = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$"
Since = Annotated[
    str | None, Parameter(pattern=_MOMENT, description="created at or after (RFC 3339)")
]
Before = Annotated[
    str | None,
    Parameter(pattern=_MOMENT, description="created before: a page's next_before, to page on"),
]
MessageId = Annotated[str, Parameter(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


def moment(name: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise InvalidRequestError(f"{name}: {value!r} is no date and time") from None


def _view(record: TurnRecordOut) -> TurnRecordView:
    fields = dataclasses.asdict(record)
    fields["guardrails"] = fields.pop("rails")
    return TurnRecordView.model_validate(fields)


class TurnsController(Controller):
    path = "/admin"
    guards = [admin_key_guard]  # noqa: RUF012
    tags = ["admin"]  # noqa: RUF012

    @get(
        "/turns",
        summary="Recent answers with their provenance, newest first",
        responses=problem_responses(400, *ADMIN, 503, *LIMITED),
    )
    async def turns(
        self,
        services: Services,
        answered_by: AnsweredBy | None = None,
        session_id: Annotated[str | None, Parameter(pattern=SESSION_ID_PATTERN)] = None,
        since: Since = None,
        before: Before = None,
        limit: Limit = 100,
    ) -> TurnPage:
        found = await services.store.list_turns(
            answered_by=answered_by,
            session_id=session_id,
            since=moment("since", since),
            before=moment("before", before),
            limit=limit,
        )
        last = found[-1].created_at if len(found) == limit else None
        return TurnPage(turns=[_view(t) for t in found], next_before=last)

    @get(
        "/turns/{message_id:str}",
        summary="One answer's provenance record",
        responses=problem_responses(400, *ADMIN, 404, 503, *LIMITED),
    )
    async def turn(self, services: Services, message_id: MessageId) -> TurnRecordView:
        found = await services.store.get_turn(message_id)
        if found is None:
            raise NotFoundError(f"no turn {message_id} in the turn log")
        return _view(found)

    @get(
        "/feedback",
        summary="Customers' ratings of answers, newest first",
        responses=problem_responses(400, *ADMIN, 503, *LIMITED),
    )
    async def feedback(
        self,
        services: Services,
        rating: Rating | None = None,
        since: Since = None,
        before: Before = None,
        limit: Limit = 100,
    ) -> FeedbackPage:
        found = await services.store.list_feedback(
            rating=rating,
            since=moment("since", since),
            before=moment("before", before),
            limit=limit,
        )
        last = found[-1].created_at if len(found) == limit else None
        return FeedbackPage(
            feedback=[FeedbackView.model_validate(dataclasses.asdict(f)) for f in found],
            next_before=last,
        )
