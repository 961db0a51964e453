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

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nemoguardrails.rails.llm.options import GenerationOptions

from chatbot import nemo
from chatbot.errors import ConfigurationError
from chatbot.followup import is_follow_up
from chatbot.nemo import provider
from ingest.embeddings import Embedder
from rails import load_config
from rails.actions import ACTIONS, RailsContext
from rails.injection import InjectionDetector
from rails.output import Policy
from rails.topical import states_own_situation

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
EMBEDDER = "shared"
"""The name the profiles give the process's embedding model (``embedding_model``)."""


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
        nemo.register_embedder(EMBEDDER, embedder)
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
        self._rails = nemo.new_rails(config)
        for name, fn in ACTIONS.items():
            self._rails.register_action(fn, name)
        context = RailsContext(InjectionDetector(embedder), embedder, policy)
        self._rails.register_action_param("rails_context", context)
        nemo.attach(self._rails, own_flows)

    async def warm_up(self) -> None:
        """The first call builds the intent index (seconds); do it before serving."""
        await self.check_input("hello")

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
        result = await nemo.call(self._rails, context, message, INPUT_CALL)
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
        result = await nemo.call(
            self._rails, {"chunks": chunks}, user, OUTPUT_CALL, bot_message=answer
        )
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
