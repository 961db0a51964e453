"""``/v1/sessions/{id}`` (masked history, erase) and ``/v1/feedback``."""

from __future__ import annotations

import time
from typing import Annotated

from litestar import Controller, Response, delete, get, post, route
from litestar.params import Parameter

from chatbot.api.openapi import JSON_BODY, LIMITED, problem_responses
from chatbot.api.schemas import SESSION_ID_PATTERN, FeedbackRequest, SessionHistory, StoredTurn
from chatbot.api.security import api_key_guard
from chatbot.errors import NotFoundError
from chatbot.metrics import FEEDBACK
from chatbot.services import Services
from chatbot.sessions import SessionStore
from rails.pii import mask

_SESSION = "/sessions/{session_id:str}"
SessionIdPath = Annotated[str, Parameter(pattern=SESSION_ID_PATTERN)]


class SessionController(Controller):
    path = "/v1"
    guards = [api_key_guard]  # noqa: RUF012
    tags = ["sessions"]  # noqa: RUF012

    @get(
        _SESSION,
        summary="A session's history (PII masked)",
        responses=problem_responses(400, 401, 404, 503, *LIMITED),
    )
    async def history(self, session_id: SessionIdPath, sessions: SessionStore) -> SessionHistory:
        turns = await sessions.history(session_id)
        if not turns:
            raise NotFoundError(f"no session {session_id} (it may have expired)")
        return SessionHistory(
            session_id=session_id,
            turns=[
                StoredTurn.model_validate(
                    {
                        "message_id": t.message_id,
                        "created_at": t.created_at,
                        "user": t.user,
                        "assistant": t.assistant,
                        "answered_by": t.answered_by,
                        "citations": t.citations,
                        "guardrails": t.guardrails,
                    }
                )
                for t in turns
            ],
        )

    @delete(
        _SESSION,
        status_code=204,
        summary="Erase a session",
        responses=problem_responses(400, 401, 404, 503, *LIMITED),
    )
    async def erase(
        self, session_id: SessionIdPath, sessions: SessionStore, services: Services
    ) -> None:
        # Its durable rows too (turn log, feedback), which outlive the session's TTL.
        erased = await services.store.erase_session(session_id)
        if not await sessions.delete(session_id) and not erased.total:
            raise NotFoundError(f"no session {session_id} (it may have expired)")

    # Litestar 2 answers OPTIONS on a path with several handlers with the methods of the one
    # registered first (litestar-org/litestar#4169, fixed in v3). A controller registers its
    # handlers in name order, so this one, named to sort first, is the path's OPTIONS handler.
    # CORS preflights never get here: the CORS middleware answers them.
    @route(_SESSION, http_method="OPTIONS", include_in_schema=False)
    async def _allow(self) -> Response[None]:
        return Response(None, status_code=204, headers={"Allow": "DELETE, GET, OPTIONS"})

    @post(
        "/feedback",
        status_code=204,
        summary="Thumbs up/down on an answer",
        responses=problem_responses(*JSON_BODY, 401, 404, 503, *LIMITED),
    )
    async def feedback(
        self, data: FeedbackRequest, sessions: SessionStore, services: Services
    ) -> None:
        # Comments are customer text: masked like every message before anything keeps them.
        comment = mask(data.comment).text if data.comment is not None else None
        record = {"rating": data.rating, "comment": comment, "at": time.time()}
        await sessions.feedback(data.session_id, data.message_id, record)
        await services.store.add_feedback(data.message_id, data.session_id, data.rating, comment)
        FEEDBACK.labels(data.rating).inc()
