"""The NeMo Guardrails actions the Colang flows of every profile execute.

:class:`chatbot.guard.Guardrails` registers them together with one :class:`RailsContext`
(NeMo passes it to each action as the ``rails_context`` parameter). They stay thin: the logic
lives in :mod:`rails.injection` and :mod:`rails.output`. A check that has to run the
embedding model does so in a worker thread, so the event loop keeps serving other turns; the
rest of a check (a fraction of a millisecond of Python holding the GIL) runs on the loop,
where a thread hop would only add its own delay.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import numpy as np
import numpy.typing as npt
from nemoguardrails.actions import action

from rails.injection import Finding, InjectionDetector, TextEncoder
from rails.output import Policy, check_answer

_T = TypeVar("_T")


class CachingEncoder(TextEncoder, Protocol):
    """:class:`ingest.embeddings.Embedder`: it remembers the messages it has embedded."""

    def cached_query(self, text: str) -> npt.NDArray[np.float32] | None: ...


class _NeedsModel(Exception):
    """A check asked :class:`_CacheOnly` for a vector it does not hold."""


class _CacheOnly:
    """An encoder that answers from the embedder's query cache and never runs the model."""

    def __init__(self, encoder: CachingEncoder) -> None:
        self._encoder = encoder

    def encode_query(self, text: str) -> npt.NDArray[np.float32]:
        vector = self._encoder.cached_query(text)
        if vector is None:
            raise _NeedsModel
        return vector

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        raise _NeedsModel


@dataclass(frozen=True)
class RailsContext:
    injection: InjectionDetector
    encoder: CachingEncoder
    policy: Policy

    async def run(self, check: Callable[[TextEncoder], _T]) -> _T:
        """``check`` on the event loop with the vectors already computed (the pipeline embeds
        the message first); again in a worker thread with the model when it needs more. The
        checks are pure, so the first try leaves nothing behind."""
        try:
            return check(_CacheOnly(self.encoder))
        except _NeedsModel:
            return await asyncio.to_thread(check, self.encoder)

    def detector(self, encoder: TextEncoder) -> InjectionDetector:
        return InjectionDetector(encoder, self.injection.classifier)


@action(name="check_injection")
async def check_injection(
    rails_context: RailsContext,
    text: str = "",
    earlier: Sequence[str] | None = None,
    near_faq: bool = False,
) -> dict[str, Any] | None:
    """The attack found in the message, or in the recent user turns read with it; None when
    the message is clean. ``block`` is False for a message only close to the attack side
    (``injection_caution``), unless the turns read together are an attack. ``near_faq``: the
    message is close to the served FAQ, and the classifier alone does not refuse it (it was fitted
    without this FAQ's products and wording); it is kept from the model instead."""
    ctx = rails_context
    found = await ctx.run(lambda encoder: ctx.detector(encoder).check(text or ""))
    if found is not None and near_faq and found.rail == "injection_classifier":
        found = Finding("injection_caution", f"{found.reason}, near the FAQ", found.score, False)
    if (found is None or not found.block) and earlier:
        joined = await ctx.run(
            lambda encoder: ctx.detector(encoder).check_conversation(list(earlier), text or "")
        )
        found = joined or found
    if found is None:
        return None
    return {
        "rail": found.rail,
        "reason": found.reason,
        "score": round(found.score, 3),
        "block": found.block,
    }


@action(name="check_output")
async def check_output(
    rails_context: RailsContext,
    answer: str = "",
    chunks: Sequence[str] | None = None,
    question: str = "",
) -> dict[str, Any]:
    result = await rails_context.run(
        lambda encoder: check_answer(
            answer or "", list(chunks or []), rails_context.policy, encoder, question or ""
        )
    )
    return {
        "ok": result.ok,
        "reason": result.reason,
        "unsupported": result.unsupported,
        "support": result.support,
    }


ACTIONS = {"check_injection": check_injection, "check_output": check_output}
