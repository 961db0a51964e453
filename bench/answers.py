"""What customers of a bank that deploys its own FAQ get back: ``python bench/answers.py``.

The corpora are public FAQ and query sets nobody on the team wrote (``bench/external/``:
``python bench/external/prepare.py`` builds them under ``.chatbot/external``): each corpus's
FAQ is ingested as a bank would ingest it, and its queries are asked as customers asked them.
Queries come in kinds: ``answerable`` (real users' wordings of a question the FAQ answers),
``faq_question`` (the FAQ's own questions, word for word), ``unanswerable`` (on-topic questions
the FAQ does not answer) and ``banking77`` (real bank customers' messages, for false refusals).

Three parts, each printed side by side for the policy of today (the baseline commit
``BASELINE``, run from a git worktree of it) and the working tree's:

1. retrieval recall@1/@5 of the expected entry (``answerable`` and ``faq_question``);
2. the end-to-end replies of the whole pipeline (retrieval, NeMo Guardrails, the embedded
   Triton engine, the output rails) for a seeded sample of each kind of the ``--split``
   (``bench/answers_worker.py`` runs each policy in its own process against one engine):
   genuine questions refused; answerable questions with the right FAQ content shown (the
   expected entry's answer as written, or a model answer that passed the output rails and
   cites it); wrong facts shown (a curated answer from another entry, or a shown model answer
   with a number or name the expected entry lacks, or any shown model answer to an unanswerable
   question); unanswerable questions that get an abstention or a human; curated coverage and
   precision; and each outcome's share and precision;
3. the claim check on labelled sentences the embedded engine wrote about the development
   split (``bench/external/grounding-<corpus>.jsonl``, when present): precision and recall of
   the rail for unsupported sentences.

``--calibrate`` prints the answer policy's threshold grid on the development split instead
(retrieval scores only, no generation): the settings' defaults come from it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.answers_claims import claim_check  # noqa: E402
from bench.answers_corpus import (  # noqa: E402
    BASELINE,
    CORPORA,
    EXTERNAL,
    SAMPLE,
    Corpus,
    baseline_tree,
    read_jsonl,
    sample,
)
from bench.answers_e2e import report, run_policy, score  # noqa: E402
from bench.answers_retrieval import TitlesHidden, calibrate, recall, sweep_on_topic  # noqa: E402
from chatbot.serving import engine_for  # noqa: E402
from chatbot.settings import Settings  # noqa: E402
from chatbot.stack import on_free_ports  # noqa: E402
from ingest.embeddings import Embedder  # noqa: E402
from ingest.search import Retriever  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", nargs="*", default=list(CORPORA))
    parser.add_argument("--split", default="test", choices=("dev", "test"))
    parser.add_argument("--calibrate", action="store_true")
    parser.add_argument("--claims", action="store_true", help="with --calibrate: claims only")
    parser.add_argument("--no-e2e", action="store_true", help="recall and claim check only")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument(
        "--rescore", action="store_true", help="score the replies the last run saved"
    )
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies the sample sizes")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    settings = Settings()
    embedder = Embedder(settings.embedding())
    corpora = [Corpus.prepare(name, settings) for name in args.corpus]
    if args.calibrate:
        for corpus in corpora:
            claim_check(corpus, embedder, calibrate=True)
            if args.claims:
                continue
            calibrate(corpus, settings, embedder)
            asyncio.run(sweep_on_topic(corpus, settings, embedder))
        return
    for corpus in corpora:
        queries = corpus.queries(args.split)
        print(f"\n{corpus.name}, {args.split}: retrieval recall of the expected entry")
        for kinds in ({"answerable"}, {"faq_question"}):
            for label, cls in (("today", TitlesHidden), ("new", Retriever)):
                retriever = cls(corpus.index_dir, embedder, settings.search())
                r1, r5, n, ms = recall(retriever, queries, frozenset(kinds))
                print(
                    f"  {label:<6} {'/'.join(kinds):<13} recall@1 {r1:.3f}  recall@5 {r5:.3f}  "
                    f"({n} questions; search {ms:.2f} ms)"
                )
        claim_check(corpus, embedder)
    if args.no_e2e:
        return
    sizes = {k: int(v * args.scale) for k, v in SAMPLE.items()}
    engine_settings = on_free_ports(settings)
    triton_url = engine_settings.triton_url
    today = baseline_tree()
    with engine_for(engine_settings):
        for corpus in corpora:
            picked = sample(corpus.queries(args.split), sizes)
            kinds = dict(Counter(q["kind"] for q in picked))
            print(f"\n{corpus.name}: {len(picked)} queries end to end ({kinds})")
            results = {}
            for label, src in ((f"today ({BASELINE})", today), ("new", REPO)):
                saved = EXTERNAL / corpus.name / f"replies-{label.split()[0]}-{args.split}.jsonl"
                if args.rescore:
                    replies = {row["i"]: row for row in read_jsonl(saved)}
                else:
                    replies = run_policy(
                        label, src, corpus, picked, triton_url, settings, args.concurrency
                    )
                    saved.write_text(
                        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in replies.values()),
                        encoding="utf-8",
                    )
                results[label] = score(corpus, picked, replies)
            report(corpus.name, results)
    print(f"\nbenchmark took {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
