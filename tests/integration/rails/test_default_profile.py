"""The default profile through real NeMo Guardrails: the output flow hands the user's message
to the groundedness check, so an answer that restates the question's premise as fact is
retracted while the same answer to a neutral question passes; the topical rail refuses
off-topic requests and lets statements of context through."""

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
        # What the chunk says passes, also as a yes to the question the chunk answers.
        faithful = "Yes, tap Cards > Freeze card in the app to block new card payments."
        neutral = await guard.check_output("Can I freeze my card in the app?", faithful, CHUNKS)
        assert not neutral.blocked, neutral
        assert neutral.support == [0]

    asyncio.run(run())


def test_topical_rail_refuses_requests_not_statements(embedder: Embedder) -> None:
    """A customer's situation in travel words is context for a banking question: it goes to the
    FAQ; a travel request is refused, first turn or later."""
    guard = Guardrails(profile_path("default"), embedder, Policy(system_prompt=prompt.SYSTEM))

    async def run() -> None:
        for earlier in ([], ["Do I need to tell you before I travel abroad?"]):
            request = await guard.check_input(
                "What's the best time of year to visit Japan?", earlier
            )
            assert request.blocked == "off_topic", request
            statement = await guard.check_input("I'm off to Japan for three weeks in May.", earlier)
            assert statement.blocked is None and statement.reply is None, statement

    asyncio.run(run())
