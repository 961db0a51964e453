"""One rails call: NeMo's Colang runtime run on a message (input rails) or on an answer
(output rails), with the chatbot's context as Colang variables."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import nemoguardrails.utils as nemo_utils
from nemoguardrails import LLMRails
from nemoguardrails.colang.v1_0.runtime.flows import compute_context
from nemoguardrails.context import generation_options_var
from nemoguardrails.logging.processing_log import compute_generation_log
from nemoguardrails.rails.llm.options import GenerationOptions

from chatbot.errors import ConfigurationError
from chatbot.nemo.switch import Speedup, active


@dataclass(frozen=True)
class Call:
    """What one NeMo call said and set."""

    response: str
    """The bot messages it uttered, one per line (empty when none)."""
    output_data: dict[str, Any]
    """The Colang variables its options ask for."""
    rails: list[str]
    """The rails it activated (``check injection``, ``greeting``...)."""

    @classmethod
    def from_response(cls, result: Any) -> Call:
        """The same from what ``LLMRails.generate_async`` returns for these options."""
        response = result.response
        if isinstance(response, list):
            response = response[-1].get("content", "") if response else ""
        activated = getattr(result.log, "activated_rails", None) or []
        return cls(
            response=str(response or ""),
            output_data=dict(result.output_data or {}),
            rails=[rail.name for rail in activated if rail.type != "generation"],
        )


class _NoMainModelFilter(logging.Filter):
    """The default profile has no main model by design (the pipeline generates), and
    ``generate_async`` warns about that on every call: drop that one message."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("No main LLM specified")


logging.getLogger("nemoguardrails.rails.llm.llmrails").addFilter(_NoMainModelFilter())

# The options as the flows read them (`$generation_options.rails.input`), dumped once per
# options object: each call would validate them again. Keyed by id, the object kept alive.
_dumped: dict[int, tuple[GenerationOptions, dict[str, Any]]] = {}


def _dump(options: GenerationOptions) -> dict[str, Any]:
    held = _dumped.get(id(options))
    if held is None or held[0] is not options:
        held = _dumped[id(options)] = (options, options.model_dump())
    return held[1]


async def call(
    rails: LLMRails,
    context: dict[str, Any],
    user: str,
    options: GenerationOptions,
    bot_message: str | None = None,
) -> Call:
    """One NeMo call running only ``options.rails``, with ``context`` as Colang variables: on
    the user's message, or (``bot_message``) on the answer to check with the user's message
    as ``$user_message``. Through ``generate_async`` unless :attr:`Speedup.DIRECT_CALL`."""
    if Speedup.DIRECT_CALL in active():
        return await _direct(rails, context, user, options, bot_message)
    messages = [{"role": "user", "content": user}]
    if bot_message is not None:
        messages.append({"role": "assistant", "content": bot_message})
    result = await rails.generate_async(
        messages=messages,
        state={"events": [{"type": "ContextUpdate", "data": context}]},
        options=options,
    )
    return Call.from_response(result)


async def _direct(
    rails: LLMRails,
    context: dict[str, Any],
    user: str,
    options: GenerationOptions,
    bot_message: str | None,
) -> Call:
    """The call run by NeMo's Colang runtime itself: for the input rails the event of the
    user's message, as ``generate_async`` makes it; for the output rails the event of the
    answer to check. There ``generate_async`` starts from the user's message too, which only
    passes the input and dialog rails it turned off and then creates the answer's event.

    ``generate_async`` is skipped because around the runtime it only repeats per-call work
    this package does not use: validating the options, rendering the Colang history for a log
    line that is off, and building a response object. The context goes in as the first event,
    so NeMo keeps no events between calls (its message-keyed cache of earlier calls' events
    is never emptied). A test compares both ways of calling."""
    start = {**context, "generation_options": _dump(options)}
    if bot_message is None:
        events: list[dict[str, Any]] = [
            {"type": "UtteranceUserActionFinished", "final_transcript": user}
        ]
    else:
        start |= {"user_message": user, "bot_message": bot_message}
        events = [nemo_utils.new_event_dict("BotMessage", text=bot_message)]
    events.insert(0, {"type": "ContextUpdate", "data": start})
    # NeMo's own actions (the production self-checks) read the options from here.
    generation_options_var.set(options)
    processing_log: list[dict[str, Any]] = []
    new_events = await rails.runtime.generate_events(events, processing_log=processing_log)
    said: list[str] = []
    for event in new_events:
        if event["type"].endswith("Exception"):
            # Only a config with `enable_rails_exceptions` makes these.
            raise ConfigurationError(
                f"the rails raised {event['type']}: rails exceptions are not supported"
            )
        if event["type"] == "StartUtteranceBotAction":
            if event["script"] == "(remove last message)":
                said = said[:-1]
            else:
                said.append(str(event["script"]))
    variables = compute_context(events + new_events)
    activated = compute_generation_log(processing_log).activated_rails
    return Call(
        response="\n".join(said),
        output_data={name: variables.get(name) for name in options.output_vars or []},
        rails=[rail.name for rail in activated if rail.type != "generation"],
    )
