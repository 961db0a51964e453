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
import gzip
import hashlib
import io
import json
import random
import re
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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

SPLIT_SALT = "faq-bench-external-v1"
CORPORA = ("insuranceqa", "bankfaq")
KINDS = ("faq_question", "answerable", "unanswerable", "banking77")
FAQ_HEADER = ("id", "question", "answer", "category", "url")


class SourceMissingError(Exception):
    """A source file is not in the given folder or git snapshot."""


class LabelsError(Exception):
    """The hand labels do not fit the corpus being built (other source, unknown id or text)."""


@dataclass(frozen=True)
class Blob:
    """One source file's bytes and where they came from."""

    data: bytes
    origin: dict[str, str]


@dataclass(frozen=True)
class FaqEntry:
    id: str
    question: str
    answer: str
    category: str
    url: str = ""


@dataclass(frozen=True)
class Query:
    text: str
    expected: tuple[str, ...]
    kind: str
    source: str
    split: str
    category: str | None = None

    def as_json(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "text": self.text,
            "expected": list(self.expected),
            "kind": self.kind,
            "source": self.source,
        }
        if self.category is not None:
            row["category"] = self.category
        return row


@dataclass
class Corpus:
    name: str
    entries: list[FaqEntry] = field(default_factory=list)
    queries: list[Query] = field(default_factory=list)
    sources: list[dict[str, str]] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)


# --- reading sources -----------------------------------------------------------------------


def _git_dir(root: Path) -> Path | None:
    for candidate in (root / ".git", root):
        if (candidate / "HEAD").is_file() and (candidate / "objects").is_dir():
            return candidate
    return None


def _git(gitdir: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", f"--git-dir={gitdir}", *args], capture_output=True, check=False)


def read_source(root: Path, rel: str, rev: str = "HEAD") -> Blob:
    """``rel`` from a plain folder or checkout (file on disk), else from ``rev`` of its git dir."""
    path = root / rel
    if path.is_file():
        data = path.read_bytes()
        origin = {"root": str(root), "path": rel, "commit": "(working tree)"}
    else:
        gitdir = _git_dir(root)
        if gitdir is None:
            raise SourceMissingError(f"{root}: no file {rel} and not a git snapshot")
        shown = _git(gitdir, "cat-file", "blob", f"{rev}:{rel}")
        if shown.returncode != 0:
            why = shown.stderr.decode(errors="replace").strip()
            raise SourceMissingError(f"{root}: {rev}:{rel} cannot be read ({why})")
        data = shown.stdout
        commit = _git(gitdir, "rev-parse", rev).stdout.decode().strip()
        origin = {"root": str(root), "path": rel, "commit": commit}
    origin["sha256"] = hashlib.sha256(data).hexdigest()
    origin["bytes"] = str(len(data))
    return Blob(data, origin)


def read_file(path: Path) -> Blob:
    data = path.read_bytes()
    origin = {"root": str(path.parent), "path": path.name, "commit": "(file)"}
    origin["sha256"] = hashlib.sha256(data).hexdigest()
    origin["bytes"] = str(len(data))
    return Blob(data, origin)


# --- text helpers --------------------------------------------------------------------------

_SPACES = re.compile(r"\s+")
_PTB = {"-LRB-": "(", "-RRB-": ")", "-LSB-": "[", "-RSB-": "]", "-LCB-": "{", "-RCB-": "}"}
_PTB_RE = re.compile("|".join(re.escape(k) for k in _PTB))
_SPACE_BEFORE = re.compile(r"\s+([,.;:!?%)\]}]|'s\b|'re\b|'ve\b|'ll\b|'d\b|'m\b|n't\b)")
_SPACE_AFTER = re.compile(r"([(\[{$])\s+")
_VIEW_MORE = re.compile(r"\s*View more\s*$")


def collapse(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def detokenize(text: str) -> str:
    """Undo the Stanford-tokenizer spacing of InsuranceQA text ("word , word -LRB- x -RRB-")."""
    text = _PTB_RE.sub(lambda m: _PTB[m.group(0)], collapse(text))
    text = _SPACE_BEFORE.sub(r"\1", text)
    return _SPACE_AFTER.sub(r"\1", text)


def split_of(key: str) -> str:
    digest = hashlib.sha256(f"{SPLIT_SALT}:{key}".encode()).digest()
    return "dev" if digest[0] < 128 else "test"


def read_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Non-blank, non-comment lines of a text file with their 1-based line numbers."""
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        text = collapse(line)
        if text and not text.startswith("#"):
            yield n, text


# --- corpora -------------------------------------------------------------------------------


def unanswerable_queries(path: Path, taken: set[str]) -> list[Query]:
    """Our hand-written questions; ``taken`` (casefolded texts already in the corpus) is skipped."""
    queries: list[Query] = []
    rel = path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path
    for n, text in read_lines(path):
        key = text.casefold()
        if key in taken:
            print(f"  warning: {rel}:{n} repeats a text already in the corpus, skipped")
            continue
        taken.add(key)
        queries.append(Query(text, (), "unanswerable", f"ours:{rel.name}:{n}", split_of(key)))
    return queries


def labelled_queries(
    path: Path, corpus: Corpus, source_sha256: str, taken: set[str]
) -> tuple[list[Query], set[str]]:
    """Banking77 messages hand-labelled against this corpus's FAQ (``labels-*.jsonl``).

    Each becomes ``answerable`` (its ``expected`` entries answer it) or ``unanswerable`` (no
    entry does), in the split the text's hash gives, as it has among the ``banking77``
    queries. Returns the queries and the casefolded texts, which ``banking77_queries`` then
    leaves out. Labels made against another version of the source file would point at the
    wrong rows, so a source hash other than ``source_sha256`` is an error.
    """
    if corpus.sources[0]["sha256"] != source_sha256:
        raise LabelsError(
            f"{path.name} labels ids of the BankFAQs.csv with SHA-256 {source_sha256[:12]}, "
            f"not {corpus.sources[0]['sha256'][:12]}: build from commit 30c5e81 of the source, "
            "or pass --no-labels"
        )
    ids = {e.id for e in corpus.entries}
    queries: list[Query] = []
    keys: set[str] = set()
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        text = collapse(row["text"])
        key = text.casefold()
        expected = tuple(row["expected"])
        unknown = [i for i in expected if i not in ids]
        if unknown:
            raise LabelsError(f"{path.name}:{n}: unknown FAQ ids {unknown}")
        if row["split"] != split_of(key):
            raise LabelsError(f"{path.name}:{n}: split {row['split']} is not the text's own")
        if key in taken or key in keys:
            raise LabelsError(f"{path.name}:{n}: text already in the corpus: {text!r}")
        keys.add(key)
        kind = "answerable" if expected else "unanswerable"
        queries.append(
            Query(text, expected, kind, "banking77-labelled", row["split"], row["intent"])
        )
    return queries, keys


def banking77_queries(
    blob: Blob, taken: set[str], labelled: frozenset[str] = frozenset()
) -> tuple[list[Query], int, set[str]]:
    """The train.csv messages not yet in the corpus; ``labelled`` texts are left out.

    Returns the queries, the number dropped as repeats and the labelled texts that were found.
    """
    reader = csv.DictReader(io.StringIO(blob.data.decode("utf-8")))
    queries: list[Query] = []
    dropped = 0
    found: set[str] = set()
    for n, row in enumerate(reader, 1):
        text = collapse(row["text"])
        key = text.casefold()
        if key in labelled:
            found.add(key)
            continue
        if not text or key in taken:
            dropped += 1
            continue
        taken.add(key)
        queries.append(
            Query(text, (), "banking77", f"banking77:train:{n}", split_of(key), row["category"])
        )
    return queries, dropped, found


def build_bankfaq(blob: Blob) -> Corpus:
    corpus = Corpus("bankfaq", sources=[blob.origin])
    reader = csv.DictReader(io.StringIO(blob.data.decode("utf-8-sig")))
    seen: set[str] = set()
    rows = dup = view_more = 0
    for n, row in enumerate(reader, 1):
        rows += 1
        question = collapse(row["Question"])
        answer = collapse(row["Answer"])
        key = question.casefold()
        if not question or not answer or key in seen:
            dup += 1
            continue
        seen.add(key)
        if _VIEW_MORE.search(answer):
            view_more += 1
            answer = _VIEW_MORE.sub("", answer)
        entry = FaqEntry(f"bfq-{n:04d}", question, answer, collapse(row["Class"]))
        corpus.entries.append(entry)
        corpus.queries.append(
            Query(question, (entry.id,), "faq_question", f"bankfaq:row:{n}", split_of(entry.id))
        )
    corpus.notes = {
        "source_rows": rows,
        "dropped_duplicate_questions": dup,
        "answers_with_view_more_removed": view_more,
    }
    return corpus


@dataclass(frozen=True)
class IqaQuestion:
    line: int
    domain: str
    text: str
    labels: tuple[str, ...]


def _vocab(blob: Blob) -> dict[str, str]:
    vocab: dict[str, str] = {}
    for line in blob.data.decode("utf-8").splitlines():
        idx, _, word = line.partition("\t")
        if idx:
            vocab[idx] = word
    return vocab


def _decode(tokens: str, vocab: dict[str, str]) -> str:
    return " ".join(vocab.get(t, t) for t in tokens.split())


def _gz_lines(blob: Blob) -> list[str]:
    data = blob.data
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return data.decode("utf-8").splitlines()


def iqa_questions(blob: Blob, vocab: dict[str, str]) -> tuple[list[IqaQuestion], int]:
    """The questions, those equal but for case merged (first line kept, labels joined)."""
    merged: dict[str, IqaQuestion] = {}
    lines = _gz_lines(blob)
    for n, line in enumerate(lines, 1):
        domain, tokens, labels = line.split("\t")
        text = collapse(_decode(tokens, vocab))
        key = text.casefold()
        first = merged.get(key)
        if first is None:
            merged[key] = IqaQuestion(n, domain, text, tuple(labels.split()))
        else:
            joined = tuple(dict.fromkeys([*first.labels, *labels.split()]))
            merged[key] = IqaQuestion(first.line, first.domain, first.text, joined)
    return list(merged.values()), len(lines) - len(merged)


def iqa_answers(blob: Blob, vocab: dict[str, str]) -> dict[str, str]:
    answers = {}
    for line in _gz_lines(blob):
        label, _, tokens = line.partition("\t")
        text = detokenize(_decode(tokens, vocab))
        if label and text:
            answers[label.strip()] = text
    return answers


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def build_insuranceqa(
    questions_blob: Blob, answers_blob: Blob, vocab_blob: Blob, n_entries: int, seed: int
) -> Corpus:
    corpus = Corpus("insuranceqa", sources=[questions_blob.origin, answers_blob.origin])
    corpus.sources.append(vocab_blob.origin)
    vocab = _vocab(vocab_blob)
    questions, merged = iqa_questions(questions_blob, vocab)
    answers = iqa_answers(answers_blob, vocab)

    by_label: dict[str, list[int]] = defaultdict(list)
    for i, q in enumerate(questions):
        for label in q.labels:
            by_label[label].append(i)
    labels = sorted((lb for lb in by_label if lb in answers), key=int)
    multi = [lb for lb in labels if len(by_label[lb]) >= 2]
    single = [lb for lb in labels if len(by_label[lb]) == 1]
    rng = random.Random(seed)
    rng.shuffle(multi)
    rng.shuffle(single)

    # Accept answers in that order (multi-question ones first). An entry's own question must
    # be fresh (no accepted answer labels it yet, preferably none but this one), so that it
    # never turns another entry's paraphrase into an FAQ question; a multi-question answer is
    # taken only if one of its other questions is not some entry's own question, so that it
    # keeps a paraphrase (this skips answers posted to the same questions as one taken).
    own_question: dict[str, int] = {}
    own: set[int] = set()
    touched: set[int] = set()
    for label in [*multi, *single]:
        if len(own_question) >= n_entries:
            break
        fresh = [i for i in by_label[label] if i not in touched]
        if not fresh:
            continue
        pick = min(fresh, key=lambda i: (len(questions[i].labels), questions[i].line))
        if len(by_label[label]) >= 2 and all(i == pick or i in own for i in by_label[label]):
            continue
        own_question[label] = pick
        own.add(pick)
        touched.update(by_label[label])

    faq_id = {label: f"iqa-{int(label):05d}" for label in own_question}
    for label in sorted(own_question, key=int):
        q = questions[own_question[label]]
        corpus.entries.append(FaqEntry(faq_id[label], q.text, answers[label], q.domain))

    # Every question touching an accepted answer is a query; entries that share a question
    # are joined so that the split never separates them.
    uf = _UnionFind()
    labelled: list[tuple[IqaQuestion, tuple[str, ...], bool]] = []
    for i, q in enumerate(questions):
        expected = tuple(sorted(faq_id[lb] for lb in q.labels if lb in faq_id))
        if not expected:
            continue
        for other in expected[1:]:
            uf.union(expected[0], other)
        labelled.append((q, expected, i in own))
    for q, expected, is_own in labelled:
        kind = "faq_question" if is_own else "answerable"
        split = split_of(uf.find(expected[0]))
        corpus.queries.append(Query(q.text, expected, kind, f"insuranceqa:v2:q{q.line}", split))

    corpus.notes = {
        "questions": len(questions) + merged,
        "questions_merged_equal_but_for_case": merged,
        "answers_in_file": len(answers),
        "answers_with_2plus_questions": len(multi),
        "entries": len(corpus.entries),
        "entries_with_paraphrases": sum(1 for lb in own_question if len(by_label[lb]) >= 2),
        "queries_with_several_expected": sum(1 for _, e, _ in labelled if len(e) > 1),
    }
    return corpus


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
