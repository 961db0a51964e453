"""NeMo Guardrails around each turn: input and dialog rails before retrieval, output rails
after generation.

In the default profile the rails never call the language model: intents are matched by
embeddings (the same MiniLM as retrieval, shared through the ``chatbot`` embedding engine),
the injection classifier and the groundedness check use that model too, canned replies come
from Colang, and the fallback intent hands the turn back to the pipeline, which makes the
single generation call of the turn. The production profile adds self-check prompts that the
main model (Triton) answers.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nemoguardrails.rails.llm
import numpy as np
from nemoguardrails import LLMRails
from nemoguardrails.colang import parse_colang_file
from nemoguardrails.colang.v1_0.runtime.flows import compute_context
from nemoguardrails.context import generation_options_var
from nemoguardrails.embeddings.basic import BasicEmbeddingsIndex
from nemoguardrails.embeddings.index import IndexItem
from nemoguardrails.embeddings.providers import register_embedding_provider
from nemoguardrails.embeddings.providers.base import EmbeddingModel
from nemoguardrails.logging.processing_log import compute_generation_log
from nemoguardrails.rails.llm.options import GenerationOptions

from chatbot import colang
from chatbot.errors import ConfigurationError
from chatbot.followup import is_follow_up
from chatbot.generation import provider
from ingest.embeddings import Embedder
from rails import load_config
from rails.actions import ACTIONS, RailsContext
from rails.injection import InjectionDetector
from rails.output import Policy
from rails.topical import states_own_situation

_EMBEDDERS: dict[str, Embedder] = {}
_registered: list[bool] = []  # NeMo's provider registry refuses a second registration
# What each call runs and returns. Built once: each call would validate them again.
INPUT_CALL = GenerationOptions(
    rails={"input": True, "dialog": True, "output": False, "retrieval": False},
    output_vars=["route", "handoff", "blocked", "blocked_detail", "withhold", "withhold_detail"],
    log={"activated_rails": True},
)
OUTPUT_CALL = GenerationOptions(
    rails={"input": False, "dialog": False, "output": True, "retrieval": False},
    output_vars=["output_blocked", "output_reason", "unsupported", "support"],
    log={"activated_rails": True},
)
# The options as the flows read them (`$generation_options.rails.input`).
_DUMPED = {id(options): options.model_dump() for options in (INPUT_CALL, OUTPUT_CALL)}


class SharedEmbeddings(EmbeddingModel):  # type: ignore[misc]  # NeMo ships no types
    """NeMo embedding engine ``chatbot``: the process's own :class:`Embedder` (its ``model``
    names an entry of the registry), so intents and retrieval share one model and one cache."""

    engine_name = "chatbot"

    def __init__(self, embedding_model: str, **_: Any) -> None:
        self.name = embedding_model

    def _embedder(self) -> Embedder:
        try:
            return _EMBEDDERS[self.name]
        except KeyError:
            raise ConfigurationError(f"no embedder registered as {self.name!r}") from None

    def encode(self, documents: list[str]) -> list[list[float]]:
        embedder = self._embedder()
        if len(documents) == 1:
            return [embedder.encode_query(documents[0]).tolist()]
        return [row.tolist() for row in embedder.encode(documents)]

    async def encode_async(self, documents: list[str]) -> list[list[float]]:
        if len(documents) == 1:
            # The injection check has usually embedded the message already: no worker thread.
            cached = self._embedder().cached_query(documents[0])
            if cached is not None:
                return [cached.tolist()]
        return await asyncio.to_thread(self.encode, documents)


class SharedIndex(BasicEmbeddingsIndex):  # type: ignore[misc]  # NeMo ships no types
    """NeMo embedding search provider ``chatbot`` (``core.embedding_search_provider`` of the
    profiles): NeMo's exact index, searched with the vector the embedder holds for the
    message. NeMo's own search has it turned into a list and back, scores every example and
    formats the best five for a log line whether the log is on or not: about 0.2 ms of each
    input call on a 2-core machine, where this one takes less than half of that. Same
    results: the scores of the few best are computed as NeMo computes them (the tests compare
    the two searches)."""

    async def search(
        self, text: str, max_results: int = 20, threshold: float | None = None
    ) -> list[IndexItem]:
        if threshold is None:
            threshold = self.search_threshold
        if self._index is None:
            raise ValueError("Index is not built yet. Ensure to call `build` before searching.")
        if self._index.shape[0] == 0:
            return []
        query = _EMBEDDERS[self.embedding_model].cached_query(text)
        if query is None:
            query = np.asarray((await self._get_embeddings([text]))[0], dtype=np.float32)
        norm = np.linalg.norm(query)
        if norm > 0:
            query = query / norm
        cosine = self._index @ query
        k = min(max_results, cosine.shape[0])
        top = np.argpartition(-cosine, k - 1)[:k]
        top = top[np.argsort(-cosine[top])]
        # NeMo's score, kept from its Annoy days (the threshold in config.yml is one): 1 minus
        # half the angular distance, a monotonic function of the cosine.
        scores = 1.0 - np.sqrt(np.clip(2.0 - 2.0 * cosine[top], 0.0, None)) / 2.0
        if not math.isinf(threshold):
            top = top[scores >= threshold]
        return [self._items[int(i)] for i in top]


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
        """The same from what ``LLMRails.generate_async`` returns for these options (the
        tests and ``bench/rails_eval.py`` compare the two ways of calling)."""
        response = result.response
        if isinstance(response, list):
            response = response[-1].get("content", "") if response else ""
        activated = getattr(result.log, "activated_rails", None) or []
        return cls(
            response=str(response or ""),
            output_data=dict(result.output_data or {}),
            rails=[rail.name for rail in activated if rail.type != "generation"],
        )


@dataclass(frozen=True)
class InputVerdict:
    reply: str | None
    """A canned reply from a dialog flow; None when the pipeline should answer."""
    handoff: bool = False
    blocked: str | None = None
    """The rail that refused the message (``off_topic``, ``injection_pattern``,
    ``conversation_injection_classifier``...); None when it is not refused."""
    detail: str | None = None
    """Why it was refused or withheld (a pattern's name, a probability)."""
    withhold: str | None = None
    """The rail that keeps the model from answering the message (``injection_caution``):
    the pipeline answers from the FAQ's own text; None when the model may answer."""
    rails: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class OutputVerdict:
    text: str
    blocked: bool
    reason: str | None = None
    """Which check failed: ``markup``, ``canary``, ``prompt_leak``, ``secret``, ``pii``,
    ``ungrounded`` or ``self_check``."""
    unsupported: list[str] = field(default_factory=list)
    support: list[int] = field(default_factory=list)
    """The chunks (by position) that support the answer's sentences, in order."""
    rails: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Persona:
    """Who the bot speaks for and what it helps with, as the canned replies say it."""

    name: str = ""
    scope: str = ""

    def context(self) -> dict[str, str]:
        return {
            "bot_name": self.name or "our bank",
            "bot_scope": self.scope or "our products and services",
        }


class Guardrails:
    """One ``LLMRails`` per process, created in the app lifespan."""

    def __init__(
        self,
        config_path: Path,
        embedder: Embedder,
        policy: Policy,
        main_model: dict[str, Any] | None = None,
        *,
        bot_name: str = "",
    ) -> None:
        """``main_model``: parameters (url, dialect, tokenizer) for a profile's main model
        when it is the chatbot's Triton provider (the production self-checks); ``bot_name``
        goes into the profile's prompts (``{{ bot_name }}``)."""
        if not (config_path / "config.yml").is_file():
            raise ConfigurationError(f"{config_path} is not a NeMo Guardrails config folder")
        _EMBEDDERS["shared"] = embedder
        if not _registered:
            register_embedding_provider(SharedEmbeddings, SharedEmbeddings.engine_name)
            provider.register()
            _registered.append(True)
        colang.install()
        self.config_path = config_path
        config = load_config(config_path)
        for task_prompt in config.prompts or []:
            if task_prompt.content:
                task_prompt.content = task_prompt.content.replace(
                    "{{ bot_name }}", Persona(name=bot_name).context()["bot_name"]
                )
        own_flows = {flow["id"] for flow in config.flows}
        for model in config.models:
            if model.type == "main" and model.engine == provider.PROVIDER:
                model.parameters = {**(model.parameters or {}), **(main_model or {})}
        self._rails = LLMRails(config)
        self._rails.register_embedding_search_provider(SharedEmbeddings.engine_name, SharedIndex)
        flows = _profile_flows(self._rails, own_flows)
        _drop_unused_library_flows(self._rails, flows)
        for name, fn in ACTIONS.items():
            self._rails.register_action(fn, name)
        colang.precompute_signatures(self._rails.runtime, flows)
        context = RailsContext(InjectionDetector(embedder), embedder, policy)
        self._rails.register_action_param("rails_context", context)

    async def warm_up(self) -> None:
        """The first call builds the intent index (seconds); do it before serving."""
        await self.check_input("hello")

    async def _run(
        self,
        context: dict[str, Any],
        user: str,
        options: GenerationOptions,
        bot_message: str | None = None,
    ) -> Call:
        """One NeMo call running only ``options.rails``, with ``context`` as Colang variables,
        run by NeMo's Colang runtime itself: for the input rails the event of the user's
        message, as ``LLMRails.generate_async`` makes it; for the output rails the event of the
        answer to check (``bot_message``), with the user's message as ``$user_message``. There
        ``generate_async`` starts from the user's message too, which only passes the input and
        dialog rails it turned off and then creates the answer's event (6 of an output call's
        30 events).

        ``generate_async`` is skipped because around the runtime it only repeats per-call
        work this class does not use: validating the options, rendering the Colang history
        for a log line that is off, and building a response object. With the shorter output
        call that was 0.4 ms of an input call and 0.5 ms of an output call here
        (``bench/rails_eval.py --runtime``). The context goes in as the first event, so NeMo
        keeps no events between calls (its message-keyed cache of earlier calls' events is
        never emptied). A test compares both ways of calling."""
        start = {**context, "generation_options": _DUMPED[id(options)]}
        if bot_message is None:
            events: list[dict[str, Any]] = [
                {"type": "UtteranceUserActionFinished", "final_transcript": user}
            ]
        else:
            start |= {"user_message": user, "bot_message": bot_message}
            events = [colang.new_event_dict("BotMessage", text=bot_message)]
        events.insert(0, {"type": "ContextUpdate", "data": start})
        # NeMo's own actions (the production self-checks) read the options from here.
        generation_options_var.set(options)
        processing_log: list[dict[str, Any]] = []
        new_events = await self._rails.runtime.generate_events(
            events, processing_log=processing_log
        )
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

    async def check_input(
        self,
        message: str,
        earlier: list[str] | None = None,
        *,
        near_faq: bool = False,
        persona: Persona | None = None,
    ) -> InputVerdict:
        """``earlier``: the recent user messages of the session, read together with this one
        by the conversation-level injection check. ``near_faq``: retrieval found the message
        close to the served FAQ, so it is on topic."""
        context = input_context(message, earlier or [], near_faq) | (persona or Persona()).context()
        result = await self._run(context, message, INPUT_CALL)
        data = result.output_data
        answer = data.get("route") == "answer"
        blocked = data.get("blocked") or None
        return InputVerdict(
            reply=None if answer else result.response,
            handoff=bool(data.get("handoff")),
            blocked=blocked,
            detail=(data.get("blocked_detail") if blocked else data.get("withhold_detail")) or None,
            withhold=data.get("withhold") or None,
            rails=result.rails,
        )

    async def check_output(self, user: str, answer: str, chunks: list[str]) -> OutputVerdict:
        """``chunks``: the retrieved text the answer must be grounded in."""
        result = await self._run({"chunks": chunks}, user, OUTPUT_CALL, bot_message=answer)
        data = result.output_data
        blocked = bool(data.get("output_blocked"))
        reason = data.get("output_reason") or None
        if not blocked and result.response != answer:
            # A NeMo library rail (the production self-check) replaced the answer.
            blocked, reason = True, "self_check"
        return OutputVerdict(
            text=result.response if blocked else answer,
            blocked=blocked,
            reason=reason,
            unsupported=list(data.get("unsupported") or []),
            support=[int(i) for i in data.get("support") or []],
            rails=result.rails,
        )


def input_context(message: str, earlier: list[str], near_faq: bool = False) -> dict[str, Any]:
    """The Colang variables of an input call besides the message."""
    return {
        "earlier_user_messages": earlier,
        # What the served FAQ covers is on topic; the injection classifier alone does not
        # refuse it either (the pipeline answers it from the FAQ's own text).
        "near_faq": near_faq,
        # A short follow-up ("and bigger ones?") continues the topic of the conversation; the
        # topical rail must not judge it alone.
        "follow_up": bool(earlier) and is_follow_up(message),
        # The topical rail refuses off-topic requests, not the customer's own situation.
        "own_situation": states_own_situation(message),
    }


def _profile_flows(rails: LLMRails, own_flows: set[str]) -> set[str]:
    """The flows a call can run: the profile's own, NeMo's core ones, the library rails the
    profile names and the subflows these call."""
    core_file = Path(nemoguardrails.rails.llm.__file__).parent / "llm_flows.co"
    core = parse_colang_file(core_file.name, core_file.read_text(encoding="utf-8"))["flows"]
    rails_config = rails.config.rails
    named = rails_config.input.flows + rails_config.output.flows + rails_config.retrieval.flows
    keep = own_flows | {flow["id"] for flow in core} | set(named)
    flows = rails.runtime.flow_configs
    todo = [f for f in keep if f in flows]
    while todo:  # `do $input_flows[$i]` runs one of the named rails, already kept
        for element in flows[todo.pop()].elements:
            is_call = isinstance(element, dict) and element.get("_type") == "flow"
            called = element.get("flow_name") if is_call else None
            if called and not called.startswith("$") and called not in keep:
                keep.add(called)
                todo.append(called)
    return keep


def _drop_unused_library_flows(rails: LLMRails, keep: set[str]) -> None:
    """NeMo adds every flow of its rails library (about 90, for services such as ActiveFence
    or Clavata) to each config, and the Colang 1.0 runtime tries each flow on every event of
    a call. Removing the ones this profile cannot run (all but ``keep``) takes 12-17 % off
    each call (``bench/rails_eval.py --runtime`` measures it side by side)."""
    flows = rails.runtime.flow_configs
    for flow_id in [f for f in flows if f not in keep]:
        del flows[flow_id]
