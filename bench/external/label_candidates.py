"""Draw the Banking77 labelling sample and show BankFAQ candidates for hand labelling.

The labels in ``labels-banking77-bankfaq.jsonl`` were made by reading, for each sampled
Banking77 message, the FAQ entries this script retrieves (BM25 and dense, top ``--k`` each,
unioned) and the entries a keyword search of the FAQ finds; an entry counts only if its answer
gives the customer what they asked for. Run from the repository root with the project's venv,
after ``python bench/external/prepare.py --corpora bankfaq``::

    python bench/external/label_candidates.py sample                  # -> /tmp/b77-sample.jsonl
    python bench/external/label_candidates.py show --start 0 --count 40
    python bench/external/label_candidates.py show --text "I lost my card"
    python bench/external/label_candidates.py grep "lost|stolen" --field question
    python bench/external/label_candidates.py entry bfq-0012 bfq-0345

``show`` groups the messages of a batch by intent and lists each candidate entry once per
intent, with the messages that retrieved it and its best BM25 (b) and dense (d) ranks. The FAQ
vectors (question, and question + answer; an entry's dense score is the better of the two) are
cached under ``/tmp`` keyed by the FAQ file's hash.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import random
import re
import signal
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO_ROOT))

import prepare  # noqa: E402  (bench/external/prepare.py)
import prepare_sources  # noqa: E402

if hasattr(signal, "SIGPIPE"):  # piping into head must not end in a traceback
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)

SAMPLE_SEED = 20261207
PER_INTENT = 6
SAMPLE_SIZE = 480
DEFAULT_FAQ = prepare.DEFAULT_OUT / "bankfaq" / "faq" / "faq.csv"
TMP = Path(tempfile.gettempdir())
DEFAULT_SAMPLE = TMP / "b77-sample.jsonl"


# --- the sample ----------------------------------------------------------------------------


def draw_sample(banking77_src: Path, faq_questions: set[str], rev: str = "HEAD") -> list[dict]:
    """480 train.csv messages: ``PER_INTENT`` per intent, then a random top-up, seeded.

    Only messages that ``prepare.py`` keeps as ``banking77`` queries are eligible (the first of
    texts equal but for case and spacing, none equal to an FAQ question), so each keeps the
    split ``prepare_sources.split_of`` already gives it.
    """
    blob = prepare_sources.read_source(banking77_src, prepare.BANKING77_TRAIN, rev)
    rows = list(csv.DictReader(io.StringIO(blob.data.decode("utf-8"))))
    seen = set(faq_questions)
    by_intent: dict[str, list[dict]] = defaultdict(list)
    for n, row in enumerate(rows, 1):
        key = prepare_sources.collapse(row["text"]).casefold()
        if not key or key in seen:
            continue
        seen.add(key)
        message = {"row": n, "text": row["text"], "intent": row["category"]}
        by_intent[row["category"]].append(message)
    rng = random.Random(SAMPLE_SEED)
    picked: list[dict] = []
    rest: list[dict] = []
    for intent in sorted(by_intent):
        pool = list(by_intent[intent])
        rng.shuffle(pool)
        picked += pool[:PER_INTENT]
        rest += pool[PER_INTENT:]
    picked += rng.sample(rest, SAMPLE_SIZE - len(picked))
    picked.sort(key=lambda m: (m["intent"], m["row"]))
    for m in picked:
        m["split"] = prepare_sources.split_of(prepare_sources.collapse(m["text"]).casefold())
    return picked


# --- the FAQ and its indexes ---------------------------------------------------------------


def read_faq(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


class Retriever:
    def __init__(self, faq: list[dict[str, str]], faq_path: Path) -> None:
        import numpy as np

        from chatbot.settings import Settings
        from ingest.embeddings import Embedder
        from ingest.lexical import LexicalIndex

        self.faq = faq
        self.lexical = LexicalIndex.build([f"{e['question']} {e['answer']}" for e in faq])
        self.embedder = Embedder(Settings().embedding())
        digest = hashlib.sha256(faq_path.read_bytes()).hexdigest()[:16]
        cache = TMP / f"bankfaq-vectors-{digest}-{self.embedder.variant}.npz"
        if cache.is_file():
            data = np.load(cache)
            self.q_vecs, self.qa_vecs = data["q"], data["qa"]
        else:
            self.q_vecs = self.embedder.encode([e["question"] for e in faq])
            self.qa_vecs = self.embedder.encode([f"{e['question']}\n{e['answer']}" for e in faq])
            np.savez(cache, q=self.q_vecs, qa=self.qa_vecs)

    def search(self, texts: list[str], k: int) -> list[tuple[list[int], list[int]]]:
        """For each text: BM25 top ``k`` and dense top ``k`` row indexes, best first."""
        import numpy as np

        vecs = self.embedder.encode(texts)
        dense = np.maximum(vecs @ self.q_vecs.T, vecs @ self.qa_vecs.T)
        out = []
        for text, scores in zip(texts, dense, strict=True):
            ids, _ = self.lexical.search(text, k)
            out.append(([int(i) for i in ids], [int(i) for i in np.argsort(-scores)[:k]]))
        return out


def _short(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[: chars - 1] + "…"


def show(
    messages: list[dict[str, Any]], retriever: Retriever, k: int, chars: int, offset: int
) -> None:
    results = retriever.search([prepare_sources.collapse(m["text"]) for m in messages], k)
    groups: dict[str, list[int]] = defaultdict(list)
    for i, m in enumerate(messages):
        groups[m.get("intent", "?")].append(i)
    for intent, idx in groups.items():
        print(f"\n=== {intent}")
        hits: dict[int, dict[str, Any]] = {}
        for i in idx:
            m = messages[i]
            print(f"  m{offset + i} [{m.get('split', '?')}] {prepare_sources.collapse(m['text'])}")
            bm25, dense = results[i]
            for kind, rows in (("b", bm25), ("d", dense)):
                for rank, row in enumerate(rows, 1):
                    h = hits.setdefault(row, {"msgs": set(), "b": 99, "d": 99})
                    h["msgs"].add(offset + i)
                    h[kind] = min(h[kind], rank)
        order = sorted(hits, key=lambda r: (-len(hits[r]["msgs"]), min(hits[r]["b"], hits[r]["d"])))
        for row in order:
            h, e = hits[row], retriever.faq[row]
            ms = ",".join(f"m{j}" for j in sorted(h["msgs"]))
            ranks = f"b{h['b'] if h['b'] < 99 else '-'} d{h['d'] if h['d'] < 99 else '-'}"
            print(f"  {e['id']} [{e['category']}] ({ms} {ranks}) {e['question']}")
            if chars:
                print(f"      A: {_short(e['answer'], chars)}")


# --- main ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--faq", type=Path, default=DEFAULT_FAQ)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sample", help="draw the seeded sample")
    s.add_argument("--banking77-src", type=Path, default=prepare.DEFAULT_BANKING77)
    s.add_argument("--out", type=Path, default=DEFAULT_SAMPLE)
    c = sub.add_parser("show", help="candidates for sampled messages or given texts")
    c.add_argument("--sample", type=Path, default=DEFAULT_SAMPLE)
    c.add_argument("--start", type=int, default=0)
    c.add_argument("--count", type=int, default=40)
    c.add_argument("--text", nargs="+", default=None, help="texts instead of the sample")
    c.add_argument("--k", type=int, default=15)
    c.add_argument("--chars", type=int, default=160, help="answer characters shown (0: none)")
    g = sub.add_parser("grep", help="entries whose text matches a regular expression")
    g.add_argument("pattern")
    g.add_argument("--field", choices=("question", "answer", "both"), default="both")
    g.add_argument("--chars", type=int, default=0)
    en = sub.add_parser("entry", help="print entries in full")
    en.add_argument("ids", nargs="+")
    args = p.parse_args(argv)

    faq = read_faq(args.faq)
    if args.cmd == "sample":
        questions = {prepare_sources.collapse(e["question"]).casefold() for e in faq}
        sample = draw_sample(args.banking77_src, questions)
        with args.out.open("w", encoding="utf-8") as fh:
            for m in sample:
                fh.write(json.dumps(m, ensure_ascii=False) + "\n")
        splits = defaultdict(int)
        for m in sample:
            splits[m["split"]] += 1
        print(f"{len(sample)} messages -> {args.out} ({dict(splits)})")
    elif args.cmd == "show":
        if args.text:
            messages: list[dict[str, Any]] = [{"text": t} for t in args.text]
            offset = 0
        else:
            lines = args.sample.read_text(encoding="utf-8").splitlines()
            chosen = lines[args.start : args.start + args.count]
            messages = [json.loads(line) for line in chosen]
            offset = args.start
        show(messages, Retriever(faq, args.faq), args.k, args.chars, offset)
    elif args.cmd == "grep":
        rx = re.compile(args.pattern, re.IGNORECASE)
        fields = ("question", "answer") if args.field == "both" else (args.field,)
        for e in faq:
            if any(rx.search(e[f]) for f in fields):
                print(f"{e['id']} [{e['category']}] {e['question']}")
                if args.chars:
                    print(f"      A: {_short(e['answer'], args.chars)}")
    else:
        by_id = {e["id"]: e for e in faq}
        for i in args.ids:
            e = by_id[i]
            print(f"{i} [{e['category']}] Q: {e['question']}\n  A: {e['answer']}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
