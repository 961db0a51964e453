"""Build FAQ corpora and labelled query splits from public FAQ/QA data we did not write.

Run ``python bench/external/prepare.py`` (stdlib only). For each corpus it writes, under
``--out`` (default ``.chatbot/external/``, which git ignores)::

    <corpus>/faq/faq.csv             id,question,answer,category,url  (what a bank would ingest)
    <corpus>/queries-dev.jsonl       {"text", "expected", "kind", "source"[, "category"]}
    <corpus>/queries-test.jsonl
    <corpus>/manifest.json           sources (repository, path, commit, sha256), seed, counts

``expected`` lists the FAQ ids that answer a query; it is empty for the kinds ``unanswerable``
(on-topic questions no entry answers) and ``banking77`` (real customer messages that nobody
labelled against these FAQs: empty means *unlabelled*, not *unanswerable*). The other kinds
are ``faq_question`` (an entry's own question) and ``answerable`` (another real user question
whose ground truth is that entry). For bankfaq, hand-labelled Banking77 messages are
``answerable`` or ``unanswerable`` too (``"source": "banking77-labelled"``). Splits are 50/50
by a salted SHA-256 hash: by FAQ entry (all queries of an entry, or of entries sharing a
question, fall in one split), by text for ``banking77``, ``unanswerable`` and the labelled
messages.

Sources (read from local snapshots: a bare git directory, a checkout, or a plain folder)
------------------------------------------------------------------------------------------
``bankfaq``: ``BankFAQs.csv`` (Question,Answer,Class; 1,764 rows) from github.com/MrJay10/
banking-faq-bot (2017), scraped by its author from the HDFC Bank website's FAQ pages. The
repository states no licence and the text is HDFC Bank's: use it for internal evaluation only.
Exact and case/space-only duplicate questions are dropped (first kept) and the scraping residue
" View more" is cut from answer ends.

``insuranceqa``: InsuranceQA V2 (github.com/shuzi/insuranceQA; Feng et al., ASRU 2015),
"provided as is and for research purpose only", questions from Insurance Library users and
answers written by insurance professionals. Questions come from
``V2/InsuranceQA.question.anslabel.raw.encoded.gz``, answers from
``V2/InsuranceQA.label2answer.raw.encoded.gz`` (or ``.token.``), both decoded with
``V2/vocabulary``. The answer file is large and is missing from the snapshot this script was
written against, so the corpus is skipped (with a message) until ``--insuranceqa-answers``
points at a copy of it. About ``--insuranceqa-entries`` answers become FAQ entries, those with
at least two questions first (one becomes the entry's question, the rest ``answerable``
queries), topped up with seeded random single-question answers.

``banking77``: ``banking_data/train.csv`` of github.com/PolyAI-LDN/task-specific-datasets
(Casanueva et al., 2020; CC BY 4.0): 10,003 online-banking customer messages with one of 77
intents, added to every corpus as kind ``banking77`` with the intent as ``category``.

``labels-banking77-bankfaq.jsonl`` (committed): 480 of those messages labelled by hand against
the bankfaq FAQ (``label_candidates.py`` draws the sample and shows the candidates). When the
file exists, bankfaq gets each as kind ``answerable`` (``expected`` = the entries that answer
it) or ``unanswerable`` (none does), with ``"source": "banking77-labelled"``, in the split its
text already has; those texts leave the ``banking77`` kind. The ids are ``bfq-<source row>``,
so the labels hold only for the BankFAQs.csv they were made against: another file (by SHA-256)
is an error, unless ``--no-labels``.

``unanswerable``: ``bench/external/unanswerable-<corpus>.txt``, written by us for this
benchmark (one question per line, ``#`` comments), each checked by grepping the source FAQ text
for its key terms (see the file headers).

Why the data is not committed: the FAQ and question texts belong to HDFC Bank, Insurance
Library's contributors and PolyAI; their terms (no licence; research use only; attribution)
and their size make them unfit to redistribute in this repository, so we commit this script,
our own unanswerable lists and the Banking77 labels (480 messages, CC BY 4.0, with FAQ ids but
no FAQ text), and rebuild the rest locally from pinned public sources.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path

from prepare_corpora import (
    Corpus,
    LabelsError,
    Query,
    banking77_queries,
    build_bankfaq,
    labelled_queries,
    unanswerable_queries,
)
from prepare_insuranceqa import build_insuranceqa
from prepare_sources import SPLIT_SALT, Blob, SourceMissingError, read_file, read_source

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
MIRROR = Path("/work/.mirror")

DEFAULT_OUT = REPO_ROOT / ".chatbot" / "external"
DEFAULT_BANKFAQ = MIRROR / "MrJay10+banking-faq-bot" / "repo"
DEFAULT_INSURANCEQA = MIRROR / "shuzi+insuranceQA" / "repo"
DEFAULT_BANKING77 = MIRROR / "PolyAI-LDN+task-specific-datasets" / "repo"

BANKFAQ_CSV = "BankFAQs.csv"
IQA_QUESTIONS = "V2/InsuranceQA.question.anslabel.raw.encoded.gz"
IQA_ANSWERS = (
    "V2/InsuranceQA.label2answer.raw.encoded.gz",
    "V2/InsuranceQA.label2answer.token.encoded.gz",
)
IQA_VOCAB = "V2/vocabulary"
BANKING77_TRAIN = "banking_data/train.csv"
BANKFAQ_LABELS = "labels-banking77-bankfaq.jsonl"
# The BankFAQs.csv that the labels' FAQ ids (bfq-<source row>) refer to: commit 30c5e81 of
# MrJay10/banking-faq-bot. Another version of the file would number its rows differently.
BANKFAQ_LABELS_SOURCE_SHA256 = "9cc6dbb1f8f9c389b1014fe2f3a5f28be5e04344735b4b3efb52c44884b1a938"

CORPORA = ("insuranceqa", "bankfaq")
KINDS = ("faq_question", "answerable", "unanswerable", "banking77")
FAQ_HEADER = ("id", "question", "answer", "category", "url")


# --- output --------------------------------------------------------------------------------


def write_corpus(corpus: Corpus, out: Path, seed: int) -> None:
    base = out / corpus.name
    (base / "faq").mkdir(parents=True, exist_ok=True)
    with (base / "faq" / "faq.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writerow(FAQ_HEADER)
        for e in corpus.entries:
            writer.writerow((e.id, e.question, e.answer, e.category, e.url))
    for split in ("dev", "test"):
        with (base / f"queries-{split}.jsonl").open("w", encoding="utf-8") as fh:
            for q in corpus.queries:
                if q.split == split:
                    fh.write(json.dumps(q.as_json(), ensure_ascii=False) + "\n")
    manifest = {
        "corpus": corpus.name,
        "seed": seed,
        "split_salt": SPLIT_SALT,
        "sources": corpus.sources,
        "faq_entries": len(corpus.entries),
        "queries": counts(corpus.queries),
        "notes": corpus.notes,
    }
    (base / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def counts(queries: Iterable[Query]) -> dict[str, dict[str, int]]:
    table: dict[str, Counter[str]] = defaultdict(Counter)
    for q in queries:
        table[q.kind][q.split] += 1
    return {k: dict(sorted(table[k].items())) for k in KINDS if k in table}


def print_summary(corpora: list[Corpus], out: Path) -> None:
    print(f"\nwritten under {out}")
    print(f"{'corpus':<12} {'kind':<13} {'dev':>7} {'test':>7} {'total':>7}")
    for c in corpora:
        print(f"{c.name:<12} {'faq entries':<13} {'':>7} {'':>7} {len(c.entries):>7}")
        table = counts(c.queries)
        for kind, by_split in table.items():
            dev, test = by_split.get("dev", 0), by_split.get("test", 0)
            print(f"{'':<12} {kind:<13} {dev:>7} {test:>7} {dev + test:>7}")
        for key, value in c.notes.items():
            print(f"{'':<12} {key}: {value}")


# --- main ----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    p.add_argument(
        "--corpora",
        nargs="+",
        choices=CORPORA,
        default=None,
        help="corpora to build (default: all; a missing source then skips, not fails)",
    )
    p.add_argument("--bankfaq-src", type=Path, default=DEFAULT_BANKFAQ)
    p.add_argument("--insuranceqa-src", type=Path, default=DEFAULT_INSURANCEQA)
    p.add_argument(
        "--insuranceqa-answers",
        type=Path,
        default=None,
        help="InsuranceQA.label2answer.{raw,token}.encoded[.gz] (default: look in the source)",
    )
    p.add_argument("--banking77-src", type=Path, default=DEFAULT_BANKING77)
    p.add_argument("--rev", default="HEAD", help="revision read from git snapshots")
    p.add_argument("--insuranceqa-entries", type=int, default=1500)
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--unanswerable-dir", type=Path, default=HERE)
    p.add_argument(
        "--bankfaq-labels",
        type=Path,
        default=HERE / BANKFAQ_LABELS,
        help="hand-labelled Banking77 messages for bankfaq (used when the file exists)",
    )
    p.add_argument("--no-labels", action="store_true", help="leave the hand labels out")
    return p.parse_args(argv)


def _insuranceqa_answers(args: argparse.Namespace) -> Blob:
    if args.insuranceqa_answers is not None:
        return read_file(args.insuranceqa_answers)
    errors = []
    for rel in IQA_ANSWERS:
        try:
            return read_source(args.insuranceqa_src, rel, args.rev)
        except SourceMissingError as exc:
            errors.append(str(exc))
    raise SourceMissingError("; ".join(errors))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    explicit = args.corpora is not None
    banking77 = read_source(args.banking77_src, BANKING77_TRAIN, args.rev)
    built: list[Corpus] = []
    for name in args.corpora or CORPORA:
        print(f"{name}:")
        try:
            if name == "bankfaq":
                corpus = build_bankfaq(read_source(args.bankfaq_src, BANKFAQ_CSV, args.rev))
            else:
                corpus = build_insuranceqa(
                    read_source(args.insuranceqa_src, IQA_QUESTIONS, args.rev),
                    _insuranceqa_answers(args),
                    read_source(args.insuranceqa_src, IQA_VOCAB, args.rev),
                    args.insuranceqa_entries,
                    args.seed,
                )
        except SourceMissingError as exc:
            print(f"  skipped: {exc}")
            if explicit:
                return 1
            continue
        taken = {q.text.casefold() for q in corpus.queries}
        corpus.queries += unanswerable_queries(
            args.unanswerable_dir / f"unanswerable-{name}.txt", taken
        )
        labels = args.bankfaq_labels if name == "bankfaq" and not args.no_labels else None
        labelled: set[str] = set()
        if labels is not None and labels.is_file():
            try:
                queries, labelled = labelled_queries(
                    labels, corpus, BANKFAQ_LABELS_SOURCE_SHA256, taken
                )
            except LabelsError as exc:
                print(f"  error: {exc}")
                return 1
            corpus.queries += queries
            corpus.sources.append(read_file(labels).origin)
        b77, b77_dropped, found = banking77_queries(banking77, taken, frozenset(labelled))
        if labelled - found:
            missing = len(labelled - found)
            print(f"  error: {missing} labelled texts are not in Banking77's train.csv")
            return 1
        corpus.queries += b77
        corpus.sources.append(banking77.origin)
        corpus.notes["banking77_dropped_duplicates"] = b77_dropped
        if labelled:
            corpus.notes["banking77_labelled"] = len(labelled)
        write_corpus(corpus, args.out, args.seed)
        built.append(corpus)
    print_summary(built, args.out)
    return 0 if built else 1


if __name__ == "__main__":
    sys.exit(main())
