"""Actions of the default profile; NeMo Guardrails loads this file from the config folder."""

from __future__ import annotations

from typing import Any

from nemoguardrails.actions import action

from rails.output import answer_is_safe
from rails.pii import mask


@action(name="mask_pii")
async def mask_pii(text: str = "") -> dict[str, Any]:
    masked = mask(text or "")
    return {"text": masked.text, "kinds": list(masked.kinds)}


@action(name="check_answer")
async def check_answer(answer: str = "") -> bool:
    return answer_is_safe(answer or "")
