"""The corpora of ``prepare.py`` and the queries every corpus gets: its FAQ entries and
labelled queries, our unanswerable questions, the hand-labelled and the other Banking77
messages, and the bankfaq corpus (InsuranceQA's is in ``prepare_insuranceqa.py``)."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prepare_sources import Blob, collapse, read_lines, split_of

REPO_ROOT = Path(__file__).resolve().parents[2]
_VIEW_MORE = re.compile(r"\s*View more\s*$")


class LabelsError(Exception):
    """The hand labels do not fit the corpus being built (other source, unknown id or text)."""


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
