"""The NeMo Guardrails actions the Colang flows of every profile execute.

:class:`chatbot.guard.Guardrails` registers them together with one :class:`RailsContext`
(NeMo passes it to each action as the ``rails_context`` parameter). They stay thin: the logic
lives in :mod:`rails.injection` and :mod:`rails.output`. The embedding
calls run in a worker thread so the event loop keeps serving other turns.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from nemoguardrails.actions import action

from rails.injection import InjectionDetector, TextEncoder
from rails.output import Policy, check_answer


@dataclass(frozen=True)
class RailsContext:
    injection: InjectionDetector
    encoder: TextEncoder
    policy: Policy


@action(name="check_injection")
async def check_injection(
    rails_context: RailsContext, text: str = "", earlier: Sequence[str] | None = None
) -> dict[str, Any] | None:
    """The attack found in the message, or in the recent user turns read with it; None when
    the message is clean."""
    detector = rails_context.injection
    found = await asyncio.to_thread(detector.check, text or "")
    if found is None and earlier:
        found = await asyncio.to_thread(detector.check_conversation, list(earlier), text or "")
    if found is None:
        return None
    return {"rail": found.rail, "reason": found.reason, "score": round(found.score, 3)}


@action(name="check_output")
async def check_output(
    rails_context: RailsContext,
    answer: str = "",
    chunks: Sequence[str] | None = None,
    question: str = "",
) -> dict[str, Any]:
    result = await asyncio.to_thread(
        check_answer,
        answer or "",
        list(chunks or []),
        rails_context.policy,
        rails_context.encoder,
        question or "",
    )
    return {"ok": result.ok, "reason": result.reason, "unsupported": result.unsupported}


ACTIONS = {"check_injection": check_injection, "check_output": check_output}
