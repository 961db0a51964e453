"""Request and response bodies of the HTTP API (validated by Litestar, shown in ``/schema``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from chatbot.policy import AnsweredBy

# Hard ceiling for the schema; the configured CHATBOT_MAX_MESSAGE_CHARS (lower) is checked by
# the pipeline, so one setting decides.
_MESSAGE_CEILING = 100_000


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str = Field(min_length=1, max_length=_MESSAGE_CEILING)
    session_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{8,64}$")
    max_tokens: int | None = Field(default=None, ge=1, le=8192)


class Citation(BaseModel):
    id: str
    title: str
    source: str
    url: str | None
    score: float
    kind: str


class ChatResponse(BaseModel):
    session_id: str
    message_id: str
    answer: str
    answered_by: AnsweredBy
    """The answer policy's outcome (``chatbot.policy``): ``curated`` and ``faq_entry`` show
    an FAQ answer as written, ``model`` a grounded generation, ``fallback`` the FAQ's text in
    place of a retracted or withheld one, ``abstain`` no answer and a human, ``rails`` a
    dialog reply or a refusal."""
    citations: list[Citation]
    guardrails: dict[str, Any]
    timings_ms: dict[str, float]


class StoredTurn(BaseModel):
    message_id: str
    created_at: float
    user: str
    assistant: str
    answered_by: str
    citations: list[Citation]
    guardrails: dict[str, Any]


class SessionHistory(BaseModel):
    session_id: str
    turns: list[StoredTurn]


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    session_id: str = Field(pattern=r"^[A-Za-z0-9_-]{8,64}$")
    message_id: str = Field(min_length=1, max_length=64)
    rating: Literal["up", "down"]
    comment: str | None = Field(default=None, max_length=2000)


class IngestPathsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    paths: list[str] | None = Field(default=None, max_length=100)
    """Server paths inside the data folder; default: the whole data folder."""
    full: bool = False
    dry_run: bool = False


# OpenAI-compatible bodies: only what the chatbot uses is validated; other fields an OpenAI
# client may send (n, logprobs, user, ...) are accepted and ignored.
class OpenAIMessage(BaseModel):
    role: str
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return " ".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""


class OpenAIChatRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str
    messages: list[OpenAIMessage] = Field(min_length=1, max_length=500)
    stream: bool = False
    max_tokens: int | None = Field(default=None, ge=1, le=8192)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=8192)
