"""``/v1/sessions/{id}`` (masked history, erase) and ``/v1/feedback``."""

from __future__ import annotations

import time

from litestar import Controller, delete, get, post

from chatbot.api.schemas import FeedbackRequest, SessionHistory, StoredTurn
from chatbot.api.security import api_key_guard
from chatbot.errors import NotFoundError
from chatbot.metrics import FEEDBACK
from chatbot.sessions import SessionStore


class SessionController(Controller):
    path = "/v1"
    guards = [api_key_guard]  # noqa: RUF012
    tags = ["sessions"]  # noqa: RUF012

    @get("/sessions/{session_id:str}", summary="A session's history (PII masked)")
    async def history(self, session_id: str, sessions: SessionStore) -> SessionHistory:
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

    @delete("/sessions/{session_id:str}", status_code=204, summary="Erase a session")
    async def erase(self, session_id: str, sessions: SessionStore) -> None:
        if not await sessions.delete(session_id):
            raise NotFoundError(f"no session {session_id} (it may have expired)")

    @post("/feedback", status_code=204, summary="Thumbs up/down on an answer")
    async def feedback(self, data: FeedbackRequest, sessions: SessionStore) -> None:
        record = {"rating": data.rating, "comment": data.comment, "at": time.time()}
        await sessions.feedback(data.session_id, data.message_id, record)
        FEEDBACK.labels(data.rating).inc()
