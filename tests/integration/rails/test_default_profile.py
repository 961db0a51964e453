"""The default profile's output rail through real NeMo Guardrails: the flow hands the user's
message to the groundedness check, so an answer that restates the question's premise as fact
is retracted while the same answer to a neutral question passes."""

from __future__ import annotations

import asyncio

from chatbot import prompt
from chatbot.guard import Guardrails
from ingest.embeddings import Embedder
from rails import profile_path
from rails.output import Policy

CHUNKS = [
    "How do I freeze my card?\nTap Cards > Freeze card in the app to block new card payments "
    "and cash withdrawals instantly."
]
ANSWER = "Yes, your flatmate can freeze your card in the app from his phone."


def test_output_rail_reads_the_question(embedder: Embedder) -> None:
    guard = Guardrails(profile_path("default"), embedder, Policy(system_prompt=prompt.SYSTEM))

    async def run() -> None:
        premise = await guard.check_output(
            "Can my flatmate freeze my card from his phone?", ANSWER, CHUNKS
        )
        assert premise.blocked and premise.reason == "ungrounded", premise
        assert premise.unsupported == [ANSWER]
        neutral = await guard.check_output("How do I freeze my card?", ANSWER, CHUNKS)
        assert not neutral.blocked, neutral

    asyncio.run(run())
