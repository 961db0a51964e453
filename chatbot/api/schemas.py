"""Request and response bodies of the HTTP API (validated by Litestar, shown in ``/schema``).

Request models are strict (JSON types only: ``true`` is not the integer 1) and, except for the
OpenAI-compatible body, refuse unknown fields; ``chatbot.api.openapi`` makes the schema say so.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from litestar.datastructures import UploadFile
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, JsonValue

from chatbot.policy import AnsweredBy
from chatbot.turn import NOT_BLANK, GuardrailsReport

SESSION_ID_PATTERN = r"^[A-Za-z0-9_-]{8,64}$"
# A message must hold something besides blanks (the pipeline strips them).
_TEXT_PATTERN = NOT_BLANK
# Hard ceiling for validation; the schema states the configured CHATBOT_MAX_MESSAGE_CHARS
# (``chatbot.api.openapi``), which the pipeline checks, so one setting decides.
_MESSAGE_CEILING = 100_000


def _json_integer(value: object) -> object:
    # JSON Schema counts 64.0 as an integer; strict validation would refuse it.
    return int(value) if isinstance(value, float) and value.is_integer() else value


SessionId = Annotated[str, Field(pattern=SESSION_ID_PATTERN)]
MaxTokens = Annotated[int, Field(ge=1, le=8192), BeforeValidator(_json_integer)]


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    message: str = Field(min_length=1, max_length=_MESSAGE_CEILING, pattern=_TEXT_PATTERN)
    session_id: SessionId | None = None
    max_tokens: MaxTokens | None = None


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
    guardrails: GuardrailsReport
    """What the rails decided; ``unsupported``, ``handoff_offered`` and ``suggested`` are
    there only on the outcomes that set them."""
    timings_ms: dict[str, float]


class StoredTurn(BaseModel):
    message_id: str
    created_at: float
    user: str
    assistant: str
    answered_by: AnsweredBy
    citations: list[Citation]
    guardrails: GuardrailsReport


class SessionHistory(BaseModel):
    session_id: str
    turns: list[StoredTurn]


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    session_id: SessionId
    message_id: str = Field(min_length=1, max_length=64)
    rating: Literal["up", "down"]
    comment: str | None = Field(default=None, max_length=2000)


# A server path inside the data folder: no NUL byte (the OS refuses it), not absurdly long.
ServerPath = Annotated[str, Field(min_length=1, max_length=1024, pattern=r"^[^\x00]+$")]


class IngestPathsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    paths: list[ServerPath] | None = Field(default=None, max_length=100)
    """Server paths inside the data folder; default: the whole data folder."""
    full: bool = False
    dry_run: bool = False
    force: bool = False
    """Publish the new version even if the regression gate refuses it."""


class IngestUpload(BaseModel):
    """``multipart/form-data``: one or more documents in the field ``files``."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    files: list[UploadFile] = Field(min_length=1, max_length=100)


class Problem(BaseModel):
    """An RFC 9457 problem detail (``application/problem+json``); some carry extension members
    (``checks`` of readiness, ``extra`` of a validation error)."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None


# OpenAI-compatible bodies: only what the chatbot uses is validated; other fields an OpenAI
# client may send (n, logprobs, user, ...) are accepted and ignored.
class OpenAIMessage(BaseModel):
    model_config = ConfigDict(strict=True)

    role: str
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return " ".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""


# What "a user message with text" means, for the schema (``_turn_message`` picks the last).
_USER_TEXT: dict[str, JsonValue] = {
    "type": "object",
    "required": ["role", "content"],
    "properties": {
        "role": {"const": "user"},
        "content": {
            "anyOf": [
                {"type": "string", "pattern": _TEXT_PATTERN},
                {
                    "type": "array",
                    "contains": {
                        "type": "object",
                        "required": ["type", "text"],
                        "properties": {
                            "type": {"const": "text"},
                            "text": {"type": "string", "pattern": _TEXT_PATTERN},
                        },
                    },
                },
            ]
        },
    },
}


class OpenAIChatRequest(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    model: str
    messages: list[OpenAIMessage] = Field(
        min_length=1, max_length=500, json_schema_extra={"contains": _USER_TEXT}
    )
    stream: bool = False
    max_tokens: MaxTokens | None = None
    max_completion_tokens: MaxTokens | None = None


class CitedSource(BaseModel):
    """A source an answer cited, with its retrieval score then."""

    id: str
    title: str
    url: str | None
    score: float
    kind: str | None


class TurnRecordView(BaseModel):
    """The provenance of one answer (``GET /admin/turns``): masked question, answer, sources,
    rail verdicts, and what produced it."""

    message_id: str
    session_id: str
    created_at: datetime
    question: str
    """The customer's message as masked; the raw text is never kept."""
    answer: str
    answered_by: AnsweredBy
    citations: list[CitedSource]
    guardrails: dict[str, Any]
    """The turn's guardrails report (the keys of ``guardrails`` in a chat answer)."""
    index_version: str | None
    prompt_version: str | None
    engine_dialect: str | None
    engine_model: str | None
    timings_ms: dict[str, float]


class TurnPage(BaseModel):
    turns: list[TurnRecordView]
    next_before: datetime | None
    """Pass as ``before`` for the next page (older turns); null on the last page."""


class FeedbackView(BaseModel):
    id: int
    message_id: str
    session_id: str
    rating: Literal["up", "down"]
    comment: str | None
    """As masked."""
    created_at: datetime


class FeedbackPage(BaseModel):
    feedback: list[FeedbackView]
    next_before: datetime | None
