"""The end-to-end part of ``bench/answers.py``: each policy's replies (``answers_worker.py``
in its own process against one engine), scored against the expected FAQ entries, and the
side-by-side table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from bench.answers_corpus import REPO, Corpus, entry_of, read_jsonl
from chatbot.settings import Settings
from rails import grounding


def run_policy(
    label: str,
    src: Path,
    corpus: Corpus,
    queries: list[dict[str, Any]],
    triton_url: str,
    settings: Settings,
    concurrency: int,
) -> dict[int, dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="answers-") as tmp:
        job = {
            "label": f"{corpus.name}/{label}",
            "src": str(src),
            "index_dir": str(corpus.index_dir),
            "cache_dir": str(settings.cache_dir.resolve()),
            "triton_url": triton_url,
            "concurrency": concurrency,
            "out": str(Path(tmp) / "out.jsonl"),
            "queries": [
                {"i": q["i"], "text": q["text"], "rails_only": q["kind"] == "banking77"}
                for q in queries
            ],
        }
        (Path(tmp) / "job.json").write_text(json.dumps(job), encoding="utf-8")
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(src)}
        subprocess.run(
            [
                sys.executable,
                str(REPO / "bench" / "answers_worker.py"),
                str(Path(tmp) / "job.json"),
            ],
            check=True,
            env=env,
            cwd=src,
        )
        return {row["i"]: row for row in read_jsonl(Path(tmp) / "out.jsonl")}


def normalised(row: dict[str, Any]) -> dict[str, Any]:
    """Today's code kept ``answered_by: model`` on an answer the output rails retracted; it is
    a fallback (the FAQ's text and a human) in both versions' replies."""
    if row["retracted"] and row["answered_by"] == "model":
        return {**row, "answered_by": "fallback"}
    return row


def shown_entry(row: dict[str, Any]) -> str | None:
    """The FAQ entry whose answer the reply shows as written, if any."""
    if row["answered_by"] in {"curated", "faq_entry"}:
        return entry_of(row["citations"][0]) if row["citations"] else None
    if row["answered_by"] == "fallback" and row.get("suggested"):
        return entry_of(row["suggested"])
    return None


def wrong_model_facts(answer: str, expected_text: str, question: str) -> bool:
    """A number or a name in the answer that the expected entry does not carry."""
    known = expected_text + "\n" + question
    return bool(grounding.numbers(answer) - grounding.numbers(known)) or any(
        name not in known.lower() for name in grounding.names(answer)
    )


def score(
    corpus: Corpus, queries: list[dict[str, Any]], replies: dict[int, dict[str, Any]]
) -> dict[str, Any]:
    c: Counter[str] = Counter()
    outcomes: dict[str, Counter[str]] = defaultdict(Counter)
    for q in queries:
        row = normalised(replies[q["i"]])
        kind = q["kind"]
        c[f"{kind}_n"] += 1
        c[f"{kind}_refused"] += row["refused"]
        if kind == "banking77" or row["refused"]:
            continue
        by = row["answered_by"]
        model_shown = by == "model"
        entry = shown_entry(row)
        if kind == "unanswerable":
            c["un_abstain_or_human"] += by in {"abstain", "fallback"}
            c["un_shown"] += by not in {"abstain", "fallback", "rails"}
            c["un_wrong"] += model_shown or by == "curated"
            outcomes["unanswerable"][by] += 1
            continue
        expected = set(q["expected"])
        right = (entry in expected) or (
            model_shown
            and any(entry_of(cid) in expected for cid in row["citations"])
            and not wrong_model_facts(
                row["answer"], " ".join(corpus.answers.get(e, "") for e in expected), q["text"]
            )
        )
        c["right"] += right
        c["answers_n"] += 1
        c["shown"] += by not in {"abstain", "rails"}
        outcomes["answerable"][by] += 1
        outcomes["answerable_right"][by] += right
        if by == "curated":
            c["curated"] += 1
            c["curated_right"] += right
            c["wrong"] += not right
        elif model_shown:
            c["wrong"] += wrong_model_facts(
                row["answer"], " ".join(corpus.answers.get(e, "") for e in expected), q["text"]
            )
        elif entry is not None and entry not in expected:
            c["wrong_entry_offered"] += 1
    return {"c": c, "outcomes": outcomes}


def pct(a: float, b: float) -> str:
    return f"{100 * a / b:5.1f} %" if b else "    -  "


def report(name: str, results: dict[str, dict[str, Any]]) -> None:
    labels = list(results)
    print(f"\n{name}: end to end ({' vs '.join(labels)})")
    width = 44

    def line(title: str, get: Any) -> None:
        cells = "".join(f"{get(results[label]['c']):>22}" for label in labels)
        print(f"  {title:<{width}}{cells}")

    print(f"  {'':<{width}}" + "".join(f"{label:>22}" for label in labels))
    genuine = ("answerable", "faq_question", "unanswerable", "banking77")
    line(
        "genuine questions refused (all kinds)",
        lambda c: pct(sum(c[f"{k}_refused"] for k in genuine), sum(c[f"{k}_n"] for k in genuine)),
    )
    for k in genuine:
        line(f"  {k} refused", lambda c, k=k: f"{c[f'{k}_refused']}/{c[f'{k}_n']}")
    answerable = lambda c: c["answerable_n"] + c["faq_question_n"]  # noqa: E731
    line("right FAQ content shown (answerable + FAQ q.)", lambda c: pct(c["right"], answerable(c)))
    line(
        "wrong facts shown (of answers shown)",
        lambda c: pct(c["wrong"] + c["un_wrong"], c["shown"] + c["un_shown"]),
    )
    line(
        "wrong FAQ entry offered as the closest",
        lambda c: pct(c["wrong_entry_offered"], c["shown"]),
    )
    line(
        "unanswerable -> abstention or a human",
        lambda c: pct(c["un_abstain_or_human"], c["unanswerable_n"]),
    )
    line("curated coverage (answerable + FAQ q.)", lambda c: pct(c["curated"], answerable(c)))
    line("curated precision", lambda c: pct(c["curated_right"], c["curated"]))
    for label in labels:
        out = results[label]["outcomes"]
        shares = ", ".join(
            f"{by} {n} ({out['answerable_right'][by]} right)"
            for by, n in out["answerable"].most_common()
        )
        print(f"  {label}: answerable outcomes: {shares}")
        print(
            f"  {label}: unanswerable outcomes: "
            + ", ".join(f"{by} {n}" for by, n in out["unanswerable"].most_common())
        )
