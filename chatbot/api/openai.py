"""OpenAI-compatible chat completions, so support systems can use any OpenAI client.

The conversation lives in the session store, not in the request: the last user message of
``messages`` is the turn, and the session comes from the ``X-Session-Id`` header (a new one
is created and returned in that header when it is missing). A streamed answer that fails the
output rails cannot be unsent, so its last chunk carries the fallback text with
``finish_reason: "content_filter"``, OpenAI's own signal for filtered content.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from litestar import Controller, Response, get, post
from litestar.params import Parameter
from litestar.response import ServerSentEvent, ServerSentEventMessage

from chatbot.api.chat import started
from chatbot.api.openapi import LIMITED, TURN, JsonOrEventStream, problem_responses
from chatbot.api.problems import Problems
from chatbot.api.schemas import SESSION_ID_PATTERN, OpenAIChatRequest
from chatbot.api.security import api_key_guard
from chatbot.errors import EXPECTED_ERRORS, InvalidRequestError
from chatbot.pipeline import ChatPipeline
from chatbot.sessions import new_session_id
from chatbot.settings import Settings
from chatbot.turn import DoneEvent, Event, RetractEvent, TokenEvent, TurnResult


def _turn_message(data: OpenAIChatRequest) -> str:
    """The last user message with text (the schema says one must be there)."""
    for message in reversed(data.messages):
        if message.role == "user" and message.text().strip():
            return message.text()
    raise InvalidRequestError("messages holds no user message with text")


def _extras(result: TurnResult) -> dict[str, Any]:
    """The chatbot's own members of a completion: its citations and guardrails report."""
    return {"citations": result.citations, "guardrails": result.report.as_json()}


def _chunk(cid: str, model: str, created: int, delta: dict[str, Any], finish: str | None) -> str:
    body = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


async def completion_chunks(
    events: AsyncGenerator[Event, None], model: str, cid: str, problems: Problems
) -> AsyncIterator[ServerSentEventMessage | str]:
    created = int(time.time())
    yield _chunk(cid, model, created, {"role": "assistant", "content": ""}, None)
    try:
        async for event in events:
            if isinstance(event, TokenEvent):
                yield _chunk(cid, model, created, {"content": event.text}, None)
            elif isinstance(event, RetractEvent):
                delta = {"content": "\n\n" + event.text}
                yield _chunk(cid, model, created, delta, "content_filter")
                return
            elif isinstance(event, DoneEvent):
                final = json.loads(_chunk(cid, model, created, {}, "stop"))
                final.update(_extras(event.result))
                yield json.dumps(final, ensure_ascii=False, separators=(",", ":"))
    except EXPECTED_ERRORS as exc:
        yield json.dumps({"error": problems.as_json(exc)})
    finally:
        await events.aclose()
    yield "[DONE]"


class OpenAIController(Controller):
    path = "/v1"
    guards = [api_key_guard]  # noqa: RUF012
    tags = ["openai"]  # noqa: RUF012

    @get(
        "/models", summary="Models (OpenAI-compatible)", responses=problem_responses(401, *LIMITED)
    )
    async def models(self, settings: Settings) -> dict[str, Any]:
        return {
            "object": "list",
            "data": [
                {"id": settings.model_name, "object": "model", "created": 0, "owned_by": "chatbot"}
            ],
        }

    @post(
        "/chat/completions",
        status_code=200,
        summary="Chat completion (OpenAI-compatible; Server-Sent Events with stream: true)",
        responses=problem_responses(*TURN, *LIMITED),
        operation_class=JsonOrEventStream,
    )
    async def completions(
        self,
        data: OpenAIChatRequest,
        pipeline: ChatPipeline,
        settings: Settings,
        problems: Problems,
        session_id: str | None = Parameter(
            header="X-Session-Id",
            default=None,
            pattern=SESSION_ID_PATTERN,
            # A header is a string or absent: Litestar would document "string or null".
            schema_extra={"one_of": None, "type": "string"},
        ),
    ) -> Response[Any]:
        message = pipeline.check_message(_turn_message(data))
        session_id = session_id or new_session_id()
        max_tokens = data.max_completion_tokens or data.max_tokens
        headers = {"X-Session-Id": session_id}
        if data.stream:
            events = await started(pipeline.stream(message, session_id, max_tokens=max_tokens))
            cid = f"chatcmpl-{new_session_id()}"
            return ServerSentEvent(
                completion_chunks(events, settings.model_name, cid, problems), headers=headers
            )
        result = await pipeline.run(message, session_id, max_tokens=max_tokens)
        body = {
            "id": f"chatcmpl-{result.message_id}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": settings.model_name,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": result.answer},
                    "finish_reason": "content_filter" if result.report.retracted else "stop",
                }
            ],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            **_extras(result),
        }
        return Response(body, headers=headers)
