"""``chatbot.guard`` with the real embedding model and NeMo Guardrails: the intent search
gives NeMo's results, rails calls give what ``generate_async`` gives, and they leave nothing
behind in NeMo."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from nemoguardrails.embeddings.basic import BasicEmbeddingsIndex
from nemoguardrails.rails.llm.options import GenerationOptions

from chatbot import nemo, prompt
from chatbot.guard import INPUT_CALL, OUTPUT_CALL, Guardrails, input_context
from chatbot.nemo import Call, SharedIndex
from ingest.embeddings import Embedder
from rails import profile_path
from rails.output import Policy
from tests.integration.conftest import REPO

MESSAGES = REPO / "bench" / "data" / "rails" / "messages-validation.jsonl"


@pytest.fixture(scope="module")
def guard(embedder: Embedder) -> Guardrails:
    guard = Guardrails(profile_path("default"), embedder, Policy(system_prompt=prompt.SYSTEM))
    asyncio.run(guard.warm_up())
    return guard


def test_intent_search_finds_what_nemos_finds(guard: Guardrails, embedder: Embedder) -> None:
    ours = guard._rails.llm_generation_actions.user_message_index
    assert isinstance(ours, SharedIndex)
    theirs = BasicEmbeddingsIndex(index=ours.embeddings_index)
    theirs._items = ours._items
    theirs._model = ours._model
    texts = [json.loads(line)["text"] for line in MESSAGES.read_text().splitlines()][::3]
    threshold = guard._rails.config.rails.dialog.user_messages.embeddings_only_similarity_threshold

    async def compare() -> int:
        matched = 0
        for n, text in enumerate(texts):
            if n % 2:  # half of them as the pipeline asks: already embedded
                embedder.encode_query(text)
            for k, t in [(5, threshold), (20, None), (3, 0.75)]:
                found = await ours.search(text, k, t)
                assert found == await theirs.search(text, k, t), (text, k, t)
                matched += bool(found) and t == 0.75
        return matched

    matched = asyncio.run(compare())
    # Both sides of a threshold were compared: some messages have examples above it, some not.
    assert 0 < matched < len(texts), matched


def test_calls_leave_no_events_in_nemo(guard: Guardrails, embedder: Embedder) -> None:
    async def turns() -> None:
        for n in range(5):
            question = f"Can I raise my daily card limit to {n}00 pounds?"
            await guard.check_input(question, ["How do I freeze my card?"])
            await guard.check_output(question, "Yes, in the app.", ["Change limits in the app."])

    asyncio.run(turns())
    assert guard._rails.events_history_cache == {}


def test_calls_say_and_set_what_generate_async_does(guard: Guardrails) -> None:
    """``chatbot.nemo.call`` calls NeMo's runtime itself (the output call from the answer's
    event): the same replies, variables and activated rails as ``generate_async``, for every
    kind of labelled message and for grounded and ungrounded answers."""
    rows = [json.loads(line) for line in MESSAGES.read_text().splitlines()][::4]
    grounding = REPO / "bench" / "data" / "rails" / "grounding-validation.jsonl"
    answers = [json.loads(line) for line in grounding.read_text().splitlines()][::6]

    async def through_generate_async(
        options: GenerationOptions, messages: list[dict[str, str]], **context: Any
    ) -> Call:
        result = await guard._rails.generate_async(
            messages=messages,
            state={"events": [{"type": "ContextUpdate", "data": context}]},
            options=options,
        )
        return Call.from_response(result)

    async def compare() -> set[str]:
        seen: set[str] = set()
        for n, row in enumerate(rows):
            earlier = ["How do I freeze my card?"] if n % 3 == 0 else []
            context = input_context(row["text"], earlier)
            ours = await nemo.call(guard._rails, context, row["text"], INPUT_CALL)
            user = [{"role": "user", "content": row["text"]}]
            assert ours == await through_generate_async(INPUT_CALL, user, **context), row["text"]
            seen.add(str(ours.output_data["route"] or ours.output_data["blocked"]))
        for row in answers:
            ours = await nemo.call(
                guard._rails,
                {"chunks": row["context"]},
                row["question"],
                OUTPUT_CALL,
                bot_message=row["answer"],
            )
            messages = [
                {"role": "user", "content": row["question"]},
                {"role": "assistant", "content": row["answer"]},
            ]
            assert ours == await through_generate_async(
                OUTPUT_CALL, messages, chunks=row["context"]
            ), row["answer"]
            seen.add(f"output {ours.output_data['output_reason']}")
        return seen

    seen = asyncio.run(compare())
    # Answered, refused by each kind of input rail, dialog replies; passed and failed answers.
    assert {"answer", "off_topic", "injection_pattern", "injection_classifier"} <= seen, seen
    assert {"output None", "output ungrounded"} <= seen, seen


def test_rails_give_the_same_verdicts_on_nemo_as_it_ships(
    guard: Guardrails, embedder: Embedder
) -> None:
    """The public switch: every speed-up off (NeMo's functions, all library flows, the stock
    ``generate_async`` path, NeMo's intent search) gives the verdicts of the speed-ups on, for
    every kind of labelled message, with and without earlier turns, and for grounded and
    ungrounded answers; turning them back on restores the fast path."""
    rows = [json.loads(line) for line in MESSAGES.read_text().splitlines()][1::4]
    grounding = REPO / "bench" / "data" / "rails" / "grounding-validation.jsonl"
    answers = [json.loads(line) for line in grounding.read_text().splitlines()][1::6]
    flows = guard._rails.runtime.flow_configs
    pruned = len(flows)

    async def verdicts() -> list[Any]:
        found: list[Any] = []
        for n, row in enumerate(rows):
            earlier = ["How do I freeze my card?"] if n % 3 == 0 else []
            found.append(await guard.check_input(row["text"], earlier, near_faq=n % 5 == 0))
        for row in answers:
            found.append(await guard.check_output(row["question"], row["answer"], row["context"]))
        return found

    fast = asyncio.run(verdicts())
    nemo.uninstall()
    assert len(flows) > pruned  # NeMo's whole library is back
    stock = asyncio.run(verdicts())
    nemo.install()
    assert len(flows) == pruned
    assert stock == fast
    kinds = {
        v.blocked or v.withhold or ("reply" if v.reply else "answer") for v in fast[: len(rows)]
    }
    assert {"answer", "off_topic", "injection_pattern"} <= kinds, kinds
    assert {v.reason for v in fast[len(rows) :]} >= {None, "ungrounded"}
