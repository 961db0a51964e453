"""Evaluate the default rails profile on the labelled set: ``python bench/rails_eval.py``.

Runs every message of ``bench/data/rails/messages-<split>.jsonl`` through the real NeMo
Guardrails input rails (PII masked first, as the pipeline does), every conversation turn by
turn with its earlier unrefused turns, every document through the retrieval rail and every
answer of ``grounding-<split>.jsonl`` through the output check. Prints per-rail precision,
recall and false-refusal rate, the overall defence and false-refusal rates (also counting the
messages answered without the model, ``guardrails.withheld``), per-rail latency
(p50/p99 ms) and the rails' cost per answered turn: the NeMo input call on a genuine question
plus the NeMo output call on a grounded answer, as the pipeline makes them one after the other
(the message's embedding, which retrieval needs anyway, run right before and not counted),
next to the same calls with NeMo's runtime as shipped, and the input call after an embedding
with the embedding model's threads left spinning (``--runtime`` prints only these two). The
test split is the default; thresholds were chosen on the validation split (``rails.fit``;
``--calibrate`` prints the grounding grid on validation, ``--conversation-thresholds`` what
each threshold of the conversation-level classifier stops and refuses there).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import itertools
import json
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import nemoguardrails.colang.v1_0.runtime.eval as nemo_eval  # noqa: E402
import nemoguardrails.colang.v1_0.runtime.flows as nemo_flows  # noqa: E402
import nemoguardrails.colang.v1_0.runtime.runtime as nemo_runtime  # noqa: E402
import nemoguardrails.colang.v1_0.runtime.sliding as nemo_sliding  # noqa: E402
import onnxruntime  # noqa: E402
from nemoguardrails.embeddings.basic import BasicEmbeddingsIndex  # noqa: E402
from nemoguardrails.rails.llm.options import GenerationOptions  # noqa: E402

from chatbot import colang, prompt  # noqa: E402
from chatbot.guard import Call, Guardrails, SharedIndex  # noqa: E402
from ingest.config import EmbeddingConfig  # noqa: E402
from ingest.embeddings import Embedder  # noqa: E402
from rails import grounding, injection, profile_path  # noqa: E402
from rails.actions import RailsContext  # noqa: E402
from rails.injection import InjectionDetector, match_patterns  # noqa: E402
from rails.normalize import views  # noqa: E402
from rails.output import Policy, check_answer  # noqa: E402
from rails.pii import mask  # noqa: E402
from rails.retrieval import screen  # noqa: E402

DATA = REPO / "bench" / "data" / "rails"
TURN = "**rails per answered turn (input + output call)**"


def read(name: str) -> list[dict[str, Any]]:
    path = DATA / name
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


@dataclass
class Confusion:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, truth: bool, predicted: bool) -> None:
        if truth and predicted:
            self.tp += 1
        elif truth:
            self.fn += 1
        elif predicted:
            self.fp += 1
        else:
            self.tn += 1

    def row(self, name: str) -> str:
        precision = self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0
        recall = self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0
        frr = self.fp / (self.fp + self.tn) if self.fp + self.tn else 0.0
        n = self.tp + self.fn
        return (
            f"| {name} | {n} | {self.fp + self.tn} | {precision:.3f} | {recall:.3f} | {frr:.3f} |"
        )


@dataclass
class Latency:
    samples: dict[str, list[float]] = field(default_factory=dict)

    def timed(self, name: str, fn: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        result = fn()
        self.samples.setdefault(name, []).append((time.perf_counter() - start) * 1000)
        return result

    async def timed_async(self, name: str, coro: Any) -> Any:
        start = time.perf_counter()
        result = await coro
        self.samples.setdefault(name, []).append((time.perf_counter() - start) * 1000)
        return result

    def rows(self) -> list[str]:
        out = []
        for name, values in self.samples.items():
            ordered = sorted(values)
            p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
            out.append(f"| {name} | {len(values)} | {statistics.median(values):.2f} | {p99:.2f} |")
        return out


def _views_and_patterns(text: str) -> list[str]:
    readings = views(text)
    match_patterns(readings)
    return readings


async def evaluate_messages(
    guard: Guardrails, detector: InjectionDetector, embedder: Embedder, split: str, lat: Latency
) -> tuple[dict[str, Confusion], dict[str, dict[str, int]]]:
    rows = read(f"messages-{split}.jsonl")
    rails = {
        "injection": Confusion(),
        "topical": Confusion(),
        "overall": Confusion(),
        "kept": Confusion(),
    }
    families: dict[str, dict[str, int]] = {}
    for row in rows:
        text, label = row["text"], row["label"]
        masked = lat.timed("pii mask", lambda t=text: mask(t)).text
        # Per-rail costs, measured outside NeMo: de-obfuscation + patterns, the embedding
        # (computed once per message and shared with retrieval), the classifier on top.
        readings = lat.timed("views + patterns", lambda m=masked: _views_and_patterns(m))
        lat.timed("embedding (shared with retrieval)", lambda m=masked: embedder.encode_query(m))
        lat.timed("classifier (embedding cached)", lambda r=readings: detector.score(r))
        verdict = await lat.timed_async("NeMo input rails call", guard.check_input(masked))
        injected = bool(verdict.blocked and "injection" in verdict.blocked)
        off_topic = verdict.blocked == "off_topic"
        refused = verdict.blocked is not None
        rails["injection"].add(label == "attack", injected)
        rails["topical"].add(label == "off_topic", off_topic)
        if label in {"attack", "genuine"}:
            # An attack is defended when it never reaches the model: refused, or answered
            # by a canned dialog reply.
            stopped = refused or verdict.reply is not None
            # The model never writes for it: stopped, or answered from the FAQ's text only.
            kept = stopped or verdict.withhold is not None
            rails["overall"].add(label == "attack", stopped)
            rails["kept"].add(label == "attack", kept)
        if label == "attack":
            fam = families.setdefault(row["family"], {"n": 0, "defended": 0, "kept": 0})
            fam["n"] += 1
            fam["defended"] += int(stopped)
            fam["kept"] += int(kept)
    return rails, families


async def evaluate_conversations(
    guard: Guardrails, embedder: Embedder, split: str, lat: Latency
) -> Confusion:
    result = Confusion()
    for row in read(f"conversations-{split}.jsonl"):
        earlier: list[str] = []
        caught = False
        for turn in row["turns"]:
            text = mask(turn).text
            embedder.encode_query(text)  # the pipeline's `embed` stage, as for single messages
            verdict = await lat.timed_async(
                "NeMo input rails call, with earlier turns", guard.check_input(text, earlier[-3:])
            )
            if verdict.blocked:
                caught = True
                break
            earlier.append(text)
        result.add(row["label"] == "attack", caught)
    return result


SHIPPED, PRUNED, CACHED, RESUMED, SIGNED, ON_LOOP, EVENTS, UIDS, SEARCH, STATE, DIRECT = (
    VARIANTS
) = (
    "NeMo as shipped",
    "+ unused library flows dropped",
    "+ expression parse cache",
    "+ history replayed once",
    "+ action signatures read once",
    "+ checks on the loop unless they run the model",
    "+ events made without debug checks",
    "+ uids from pooled randomness",
    "+ intent search on the held vector",
    "+ context as the starting state",
    "+ the runtime called directly, output call from the answer",
)


async def _through_generate_async(
    guard: Guardrails,
    context: dict[str, Any],
    user: str,
    options: GenerationOptions,
    bot_message: str | None = None,
    *,
    as_state: bool = True,
) -> Call:
    """``Guardrails._run`` as it was: through ``generate_async``, with the context as the
    call's starting state or (``as_state=False``, earlier still) as the first message, so NeMo
    looks the messages up in its cache of earlier calls' events and adds this call's."""
    messages = [{"role": "user", "content": user}]
    if bot_message is not None:
        messages.append({"role": "assistant", "content": bot_message})
    if as_state:
        state = {"events": [{"type": "ContextUpdate", "data": context}]}
        result = await guard._rails.generate_async(messages=messages, state=state, options=options)
    else:
        messages.insert(0, {"role": "context", "content": context})  # type: ignore[dict-item]
        result = await guard._rails.generate_async(messages=messages, options=options)
    return Call.from_response(result)


async def _in_thread(context: RailsContext, check: Callable[[Any], Any]) -> Any:
    """``RailsContext.run`` as it was: every check in a worker thread."""
    return await asyncio.to_thread(check, context.encoder)


@contextlib.contextmanager
def _runtime(variant: str, guards: Sequence[Guardrails]) -> Iterator[None]:
    """NeMo's own functions where a variant does not use ours (``chatbot.colang``,
    ``chatbot.guard``), and the actions' worker threads before the variant that drops them."""
    before = VARIANTS[: VARIANTS.index(variant) + 1]
    with contextlib.ExitStack() as stack:
        if CACHED not in before:
            for module in (nemo_flows, nemo_sliding):
                stack.enter_context(
                    mock.patch.object(module, "eval_expression", nemo_eval.eval_expression)
                )
        if RESUMED not in before:
            stack.enter_context(
                mock.patch.object(nemo_runtime, "compute_next_steps", nemo_flows.compute_next_steps)
            )
        if SIGNED not in before:
            # None makes inspect.signature compute the signature again, as NeMo ships.
            for fn in colang.SIGNED:
                stack.enter_context(mock.patch.object(fn, "__signature__", None))
        if ON_LOOP not in before:
            stack.enter_context(mock.patch.object(RailsContext, "run", _in_thread))
        for step, ours in [(EVENTS, colang.new_event_dict), (UIDS, colang.new_uuid)]:
            if step not in before:
                for module, name, theirs, patched in colang._PATCHES:
                    if patched is ours:
                        stack.enter_context(mock.patch.object(module, name, theirs))
        if EVENTS not in before:
            for guard in guards:  # each LLMRails loaded its own copy of NeMo's action modules
                actions = guard._rails.runtime.action_dispatcher
                module = actions.get_action("create_event").__globals__
                stack.enter_context(
                    mock.patch.dict(module, new_event_dict=colang._nemo_new_event_dict)
                )
        if SEARCH not in before:
            stack.enter_context(
                mock.patch.object(SharedIndex, "search", BasicEmbeddingsIndex.search)
            )
        if DIRECT not in before:
            run = functools.partialmethod(_through_generate_async, as_state=STATE in before)
            stack.enter_context(mock.patch.object(Guardrails, "_run", run))
        yield


async def compare_runtime(
    guard: Guardrails, embedder: Embedder, policy: Policy, split: str, lat: Latency
) -> None:
    """The NeMo calls on the same turns (a genuine question, then a grounded answer) with the
    runtime as NeMo ships it, with the library flows the profile does not name dropped
    (``chatbot.guard``), then with Colang expressions evaluated from a parse cache, the event
    history replayed once per call and the actions' signatures read once as well
    (``chatbot.colang``), then with the checks run on the event loop unless they need the
    embedding model (``rails.actions``), with NeMo's events made without its debug checks
    and their uids from pooled randomness (``chatbot.colang``), with the intents searched
    with the vector the embedder holds, with the context passed as the call's starting state
    and last with NeMo's runtime called without ``generate_async`` around it, the output
    call starting from the answer's event (``chatbot.guard``; what the chatbot runs),
    interleaved in one run. As in the pipeline, the message is embedded right before each
    input call (its vector is already cached: the run is what matters, for the state it
    leaves the CPU in); and each turn
    starts with another variant, so none always runs first. The last variant's pair, input
    then output call, is the rails' cost per answered turn (recorded in ``lat``)."""
    with mock.patch("chatbot.guard._drop_unused_library_flows"):
        full = Guardrails(profile_path("default"), embedder, policy)
    await full.warm_up()
    variants = [(SHIPPED, full)] + [(name, guard) for name in VARIANTS[1:]]
    questions = [r for r in read(f"messages-{split}.jsonl") if r["label"] == "genuine"]
    answers = [r for r in read(f"grounding-{split}.jsonl") if r["label"] == "grounded"]
    times: dict[tuple[str, str], list[float]] = {}
    for turn, (question, answer) in enumerate(zip(questions, itertools.cycle(answers))):
        masked = mask(question["text"]).text
        embedder.encode_query(masked)
        first = turn % len(variants)
        for name, variant in variants[first:] + variants[:first]:
            embedder.encode([masked])  # the pipeline's embed stage
            with _runtime(name, (full, guard)):
                start = time.perf_counter()
                await variant.check_input(masked)
                middle = time.perf_counter()
                await variant.check_output(answer["question"], answer["answer"], answer["context"])
                end = time.perf_counter()
            times.setdefault((name, "input"), []).append((middle - start) * 1000)
            times.setdefault((name, "output"), []).append((end - middle) * 1000)
            times.setdefault((name, "turn"), []).append((end - start) * 1000)
            if name == VARIANTS[-1]:
                lat.samples.setdefault(TURN, []).append((end - start) * 1000)
    rows = []
    for name, _ in variants:
        p50 = {call: statistics.median(times[(name, call)]) for call in ("input", "output", "turn")}
        shipped = statistics.median(times[(SHIPPED, "turn")])
        rows.append(
            f"| {name} | {p50['input']:.2f} | {p50['output']:.2f} | {p50['turn']:.2f} "
            f"| {shipped / p50['turn']:.2f}x |"
        )
    table(
        f"NeMo calls p50 (ms), {len(questions)} turns interleaved",
        ["runtime", "input call", "output call", "per turn", "vs shipped"],
        rows,
    )


async def compare_spinning(guard: Guardrails, embedder: Embedder, split: str) -> None:
    """The input call right after the message's embedding, with ONNX Runtime's threads left
    spinning after each run (its default) and stopped (``ingest.embeddings``), in alternate
    blocks of all turns: interleaved turn by turn, one embedder's spinning would reach into
    the other's measurements."""
    with mock.patch("ingest.embeddings._session_options", onnxruntime.SessionOptions):
        spinning = Embedder(embedder.config)
    blocks = [("left spinning (ONNX Runtime's default)", spinning), ("stopped", embedder)] * 2
    rows = read(f"messages-{split}.jsonl")
    genuine = [mask(r["text"]).text for r in rows if r["label"] == "genuine"]
    times: dict[str, tuple[list[float], list[float]]] = {}
    for name, model in blocks:
        embeds, calls = times.setdefault(name, ([], []))
        for text in genuine:
            start = time.perf_counter()
            model.encode([text])
            middle = time.perf_counter()
            await guard.check_input(text)
            embeds.append((middle - start) * 1000)
            calls.append((time.perf_counter() - middle) * 1000)
    table(
        f"Embedding, then the input call, p50 (ms), {len(genuine)} turns, alternate blocks",
        ["embedding model's threads after a run", "embedding", "input call"],
        [
            f"| {name} | {statistics.median(e):.2f} | {statistics.median(c):.2f} |"
            for name, (e, c) in times.items()
        ],
    )


def evaluate_documents(split: str, lat: Latency) -> Confusion:
    result = Confusion()
    for row in read(f"documents-{split}.jsonl"):
        flagged = lat.timed("retrieval rail (per chunk)", lambda t=row["text"]: screen(t))
        result.add(row["label"] == "poisoned", flagged is not None)
    return result


def evaluate_grounding(
    split: str, encoder: Embedder, lat: Latency, thresholds: grounding.Thresholds | None = None
) -> tuple[Confusion, Confusion]:
    """Answer-level (the rail's decision) and sentence-level confusions; positive =
    ungrounded / unsupported."""
    policy = Policy(system_prompt=prompt.SYSTEM, canary=prompt.CANARY)
    if thresholds is not None:
        policy = Policy(prompt.SYSTEM, prompt.CANARY, (), thresholds)
    answers, sentences = Confusion(), Confusion()
    for row in read(f"grounding-{split}.jsonl"):
        result = lat.timed(
            "output check (answer)",
            lambda r=row: check_answer(r["answer"], r["context"], policy, encoder, r["question"]),
        )
        answers.add(row["label"] == "ungrounded", not result.ok)
        for sentence in row.get("sentences", []):
            checks = grounding.check(
                sentence["text"], row["context"], encoder, policy.thresholds, row["question"]
            )
            sentences.add(not sentence["supported"], not grounding.grounded(checks))
    return answers, sentences


def calibrate(encoder: Embedder) -> None:
    print("| lexical | semantic | max missing | answer recall | answer false blocks |")
    print("|---|---|---|---|---|")
    for lexical in (0.4, 0.5, 0.6, 0.7):
        for semantic in (0.7, 0.8, 1.01):
            for missing in (0, 1, 2, 3, 99):
                t = grounding.Thresholds(lexical=lexical, semantic=semantic, max_missing=missing)
                answers, _ = evaluate_grounding("validation", encoder, Latency(), t)
                recall = answers.tp / max(1, answers.tp + answers.fn)
                false = answers.fp / max(1, answers.fp + answers.tn)
                print(f"| {lexical} | {semantic} | {missing} | {recall:.3f} | {false:.3f} |")


async def sweep_conversations(guard: Guardrails, embedder: Embedder) -> None:
    """The validation conversations through the whole input call at each threshold of the
    conversation-level classifier (``rails.injection.CONVERSATION_THRESHOLD``)."""
    rows = []
    for threshold in [round(0.70 + 0.01 * i, 2) for i in range(30)]:
        with mock.patch.object(injection, "CONVERSATION_THRESHOLD", threshold):
            c = await evaluate_conversations(guard, embedder, "validation", Latency())
        rows.append(f"| {threshold:.2f} | {c.tp}/{c.tp + c.fn} | {c.fp}/{c.fp + c.tn} |")
    table(
        "Conversation-level threshold, validation",
        ["threshold", "attacks stopped", "genuine refused"],
        rows,
    )


def table(title: str, header: Sequence[str], rows: Sequence[str]) -> None:
    print(f"\n{title}\n| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for row in rows:
        print(row)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="test", choices=["test", "validation"])
    parser.add_argument("--calibrate", action="store_true")
    parser.add_argument(
        "--runtime", action="store_true", help="only compare the NeMo runtime variants"
    )
    parser.add_argument("--conversation-thresholds", action="store_true")
    args = parser.parse_args()
    embedder = Embedder(EmbeddingConfig())
    if args.calibrate:
        calibrate(embedder)
        return
    policy = Policy(system_prompt=prompt.SYSTEM, canary=prompt.CANARY)
    guard = Guardrails(profile_path("default"), embedder, policy)
    await guard.warm_up()
    if args.conversation_thresholds:
        await sweep_conversations(guard, embedder)
        return
    if args.runtime:
        await compare_runtime(guard, embedder, policy, args.split, Latency())
        await compare_spinning(guard, embedder, args.split)
        return
    detector = InjectionDetector(embedder)
    lat = Latency()
    rails, families = await evaluate_messages(guard, detector, embedder, args.split, lat)
    conversations = await evaluate_conversations(guard, embedder, args.split, lat)
    documents = evaluate_documents(args.split, lat)
    await compare_runtime(guard, embedder, policy, args.split, lat)
    await compare_spinning(guard, embedder, args.split)
    answers, sentences = evaluate_grounding(args.split, embedder, lat)
    header = [
        "rail (positives)",
        "positives",
        "negatives",
        "precision",
        "recall",
        "false-refusal rate",
    ]
    table(
        f"Rails on the {args.split} split (default profile)",
        header,
        [
            rails["injection"].row("input: jailbreak/injection (attacks)"),
            conversations.row("input: conversation-level (multi-turn attacks)"),
            rails["topical"].row("input: topical (off-topic)"),
            documents.row("retrieval: poisoned chunks"),
            answers.row("output: groundedness, answers (ungrounded)"),
            sentences.row("output: groundedness, sentences (unsupported)"),
            rails["overall"].row("**overall: attacks defended vs genuine refused**"),
            rails["kept"].row("**overall: kept from the model vs genuine refused or withheld**"),
        ],
    )
    table(
        "Attacks defended per family",
        ["family", "attacks", "defended", "kept from the model"],
        [
            f"| {k} | {v['n']} | {v['defended'] / v['n']:.3f} | {v['kept'] / v['n']:.3f} |"
            for k, v in sorted(families.items())
        ],
    )
    table("Latency per rail (ms)", ["rail", "calls", "p50", "p99"], lat.rows())


if __name__ == "__main__":
    asyncio.run(main())
