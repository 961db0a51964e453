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
test split is the default; thresholds were chosen on the validation split
(``bench/fit_rails.py``, recorded in ``rails/calibration.json``; ``--calibrate`` prints the
grounding grid on validation, ``--conversation-thresholds`` what each threshold of the
conversation-level classifier stops and refuses there).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from unittest import mock

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.rails_common import Confusion, Latency, read, table  # noqa: E402
from bench.rails_runtime import compare_runtime, compare_spinning  # noqa: E402
from chatbot import nemo, prompt  # noqa: E402
from chatbot.guard import Guardrails  # noqa: E402
from ingest.config import EmbeddingConfig  # noqa: E402
from ingest.embeddings import Embedder  # noqa: E402
from rails import grounding, injection, profile_path  # noqa: E402
from rails.injection import InjectionDetector, match_patterns  # noqa: E402
from rails.normalize import views  # noqa: E402
from rails.output import Policy, check_answer  # noqa: E402
from rails.pii import mask  # noqa: E402
from rails.retrieval import screen  # noqa: E402


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


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="test", choices=["test", "validation"])
    parser.add_argument("--calibrate", action="store_true")
    parser.add_argument(
        "--runtime", action="store_true", help="only compare the NeMo runtime variants"
    )
    parser.add_argument("--conversation-thresholds", action="store_true")
    args = parser.parse_args()
    nemo.install()
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
        await compare_runtime(guard, embedder, args.split, Latency())
        await compare_spinning(guard, embedder, args.split)
        return
    detector = InjectionDetector(embedder)
    lat = Latency()
    rails, families = await evaluate_messages(guard, detector, embedder, args.split, lat)
    conversations = await evaluate_conversations(guard, embedder, args.split, lat)
    documents = evaluate_documents(args.split, lat)
    await compare_runtime(guard, embedder, args.split, lat)
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
