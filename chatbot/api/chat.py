"""``/v1/chat``: one turn as JSON, or streamed as Server-Sent Events.

Stream events: ``token`` ({text}), ``retract`` ({text, reason}: replace what was streamed),
``citations`` ([...]), ``guardrails`` ({...}), ``done`` (the whole result) and ``error``
(a problem detail; the stream ends after it). When the client goes away Litestar stops
iterating, which closes the pipeline's generator and cancels the Triton stream.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator

from litestar import Controller, post
from litestar.response import ServerSentEvent, ServerSentEventMessage

from chatbot.api.openapi import EVENT_STREAM, LIMITED, TURN, ChatEventStream, problem_responses
from chatbot.api.problems import Problems
from chatbot.api.schemas import ChatRequest, ChatResponse
from chatbot.api.security import api_key_guard
from chatbot.errors import EXPECTED_ERRORS
from chatbot.metrics import TURN_ERRORS
from chatbot.pipeline import ChatPipeline
from chatbot.turn import DoneEvent, Event, RetractEvent, TokenEvent

_RESPONSES = problem_responses(*TURN, *LIMITED)


def _data(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def sse(event: str, value: object) -> ServerSentEventMessage:
    return ServerSentEventMessage(event=event, data=_data(value))


async def started(events: AsyncGenerator[Event, None]) -> AsyncGenerator[Event, None]:
    """The turn's events, once its first one is there: an error before it (session store or
    engine down, a refused request) raises here, so the route answers with the status the
    JSON route would, not a 200 carrying an ``error`` event."""
    try:
        first = await anext(events)
    except BaseException:
        await events.aclose()
        raise

    async def replay() -> AsyncGenerator[Event, None]:
        try:
            yield first
            async for event in events:
                yield event
        finally:
            await events.aclose()

    return replay()


async def chat_events(
    events: AsyncGenerator[Event, None], problems: Problems
) -> AsyncIterator[ServerSentEventMessage]:
    try:
        async for event in events:
            if isinstance(event, TokenEvent):
                yield sse("token", {"text": event.text})
            elif isinstance(event, RetractEvent):
                yield sse("retract", {"text": event.text, "reason": event.reason})
            elif isinstance(event, DoneEvent):
                result = event.result
                yield sse("citations", result.citations)
                yield sse("guardrails", result.guardrails)
                yield sse("done", result.to_json())
    except EXPECTED_ERRORS as exc:
        TURN_ERRORS.labels(type(exc).__name__).inc()
        yield sse("error", problems.as_json(exc))
    finally:
        await events.aclose()


class ChatController(Controller):
    path = "/v1/chat"
    guards = [api_key_guard]  # noqa: RUF012  (Litestar reads class attributes)
    tags = ["chat"]  # noqa: RUF012

    @post("/", status_code=200, summary="One chat turn", responses=_RESPONSES)
    async def chat(self, data: ChatRequest, pipeline: ChatPipeline) -> ChatResponse:
        result = await pipeline.run(data.message, data.session_id, max_tokens=data.max_tokens)
        return ChatResponse.model_validate(result.to_json())

    @post(
        "/stream",
        status_code=200,
        summary="One chat turn as Server-Sent Events",
        media_type=EVENT_STREAM,
        responses=_RESPONSES,
        operation_class=ChatEventStream,
    )
    async def stream(
        self, data: ChatRequest, pipeline: ChatPipeline, problems: Problems
    ) -> ServerSentEvent:
        # Refuse a bad message here, as a problem detail, before the stream starts.
        pipeline.check_message(data.message)
        events = await started(
            pipeline.stream(data.message, data.session_id, max_tokens=data.max_tokens)
        )
        return ServerSentEvent(chat_events(events, problems), headers={"Cache-Control": "no-store"})
