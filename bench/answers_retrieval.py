"""The retrieval-only parts of ``bench/answers.py``: recall of the expected entry (today's
retriever vs the working tree's), the answer policy's threshold grid and the input rails'
on-topic threshold sweep (``--calibrate``)."""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from bench.answers_corpus import SEED, Corpus, entry_of
from chatbot import policy
from chatbot.settings import Settings
from ingest.embeddings import Embedder
from ingest.search import Hit, Retriever
from ingest.store import IndexVersion


class TitlesHidden(Retriever):
    """The served version as today's code reads it: without the title vectors."""

    @property
    def index(self) -> IndexVersion:
        version = super().index
        return replace(version, titles=None, title_dense=None)


def recall(
    retriever: Retriever, queries: Iterable[dict[str, Any]], kinds: frozenset[str]
) -> tuple[float, float, int, float]:
    """Recall@1, recall@5, questions, and the mean search time in ms (query vectors cached)."""
    at1 = at5 = n = 0
    seconds = 0.0
    for q in queries:
        if q["kind"] not in kinds or not q["expected"]:
            continue
        retriever.embedder.encode_query(q["text"])
        start = time.perf_counter()
        result = retriever.search(q["text"], k=5)
        seconds += time.perf_counter() - start
        ranked = [entry_of(h.chunk.id) for h in result.hits]
        n += 1
        at1 += bool(ranked[:1]) and ranked[0] in q["expected"]
        at5 += any(r in q["expected"] for r in ranked[:5])
    return (at1 / n if n else 0.0, at5 / n if n else 0.0, n, 1000 * seconds / max(n, 1))


# --- calibration -------------------------------------------------------------------------


def calibrate(corpus: Corpus, settings: Settings, embedder: Embedder) -> None:
    """The policy's outcomes on the development split for a grid of thresholds, from
    retrieval alone. Per kind of question: answerable (customers' wordings) and FAQ questions
    shown the right entry as written (curated or faq_entry), shown a wrong one (as curated,
    or as the closest entry), left to the model, abstained; unanswerable ones that abstain,
    are shown an entry, or go to the model."""
    retriever = Retriever(corpus.index_dir, embedder, settings.search())
    queries = corpus.queries("dev")
    rows: list[tuple[dict[str, Any], list[Hit]]] = []
    for q in queries:
        if q["kind"] in {"answerable", "faq_question", "unanswerable"}:
            hits = retriever.search(q["text"]).hits[: settings.context_chunks]
            rows.append((q, hits))
    n = Counter(q["kind"] for q, _ in rows)
    print(f"\n{corpus.name}, dev: {dict(n)}")
    print(
        f"{'cur.':>5} {'entry':>5} {'ans.':>5} | answerable: {'right':>5} {'wrC':>5} {'wrE':>5} "
        f"{'model':>5} {'abst':>5} | faq q.: {'right':>5} {'wrong':>5} | unanswerable: "
        f"{'abst':>5} {'entry':>5} {'model':>5}"
    )
    for cur in (0.85, 0.88, 0.9, 0.92):
        for entry in (0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85):
            for answer in (0.3, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65):
                if answer > entry:
                    continue
                t = policy.Thresholds(curated=cur, entry=entry, answer=answer)
                c: Counter[str] = Counter()
                for q, hits in rows:
                    d = policy.decide(hits, t)
                    kind = q["kind"]
                    c[f"{kind}:{d.outcome}"] += 1
                    if d.entry is not None and kind != "unanswerable":
                        ok = entry_of(d.entry.chunk.id) in q["expected"]
                        c[f"{kind}:right" if ok else f"{kind}:wrong_{d.outcome}"] += 1

                def r(key: str, kind: str, c: Counter[str] = c) -> str:
                    return f"{c[f'{kind}:{key}'] / max(n[kind], 1):>5.2f}"

                a, f, u = "answerable", "faq_question", "unanswerable"
                wrong_f = (c[f"{f}:wrong_curated"] + c[f"{f}:wrong_faq_entry"]) / max(n[f], 1)
                print(
                    f"{cur:>5.2f} {entry:>5.2f} {answer:>5.2f} | {'':>11} {r('right', a)} "
                    f"{r('wrong_curated', a)} {r('wrong_faq_entry', a)} {r('model', a)} "
                    f"{r('abstain', a)} | {'':>7} {r('right', f)} {wrong_f:>5.2f} | "
                    f"{'':>13} {r('abstain', u)} {r('faq_entry', u)} {r('model', u)}"
                )


async def sweep_on_topic(corpus: Corpus, settings: Settings, embedder: Embedder) -> None:
    """Refusals by the input rails against the on-topic threshold, on the development split:
    each message is checked once as not near the FAQ and once as near it, and its best
    relevance decides which verdict a threshold gives. Genuine messages refused (lower is
    better) and the project's labelled attacks and off-topic requests (validation split)
    that the rails would no longer refuse (lower is better)."""
    from bench.rails_common import read as read_labelled
    from chatbot import nemo, prompt
    from chatbot.guard import Guardrails
    from rails import profile_path
    from rails.output import Policy
    from rails.pii import mask

    nemo.install()  # as the app runs the rails
    guard = Guardrails(profile_path("default"), embedder, Policy(system_prompt=prompt.SYSTEM))
    await guard.warm_up()
    retriever = Retriever(corpus.index_dir, embedder, settings.search())
    genuine = [q for q in corpus.queries("dev") if q["kind"] != "faq_question"]
    rng = random.Random(SEED)
    rng.shuffle(genuine)
    genuine = genuine[:1500]
    labelled = read_labelled("messages-validation.jsonl")
    others = [r for r in labelled if r["label"] in {"attack", "off_topic"}]
    rows: list[tuple[str, float, bool, bool]] = []
    for kind, text in [(q["kind"], q["text"]) for q in genuine] + [
        (r["label"], r["text"]) for r in others
    ]:
        masked = mask(text).text
        hits = retriever.search(masked).hits
        best = hits[0].relevance if hits else 0.0
        far = (await guard.check_input(masked)).blocked is not None
        near = (await guard.check_input(masked, near_faq=True)).blocked is not None
        rows.append((kind, best, far, near))
    print(f"\n{corpus.name}, dev: input-rail refusals by on-topic threshold")
    kinds = sorted({k for k, *_ in rows})
    print(f"{'on_topic':>8} " + " ".join(f"{k:>14}" for k in kinds))
    for threshold in (0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 2.0):
        cells = []
        for kind in kinds:
            mine = [(b, f, n) for k, b, f, n in rows if k == kind]
            refused = sum(n if b >= threshold else f for b, f, n in mine)
            cells.append(f"{refused:>6}/{len(mine):<7}")
        label = "off" if threshold > 1 else f"{threshold:.2f}"
        print(f"{label:>8} " + " ".join(cells))
