"""The insuranceqa corpus of ``prepare.py``: InsuranceQA V2's questions and answers decoded
with its vocabulary, a seeded choice of answers as FAQ entries, their other questions as
``answerable`` queries, and a split that never separates entries sharing a question."""

from __future__ import annotations

import gzip
import random
from collections import defaultdict
from dataclasses import dataclass

from prepare_corpora import Corpus, FaqEntry, Query
from prepare_sources import Blob, collapse, detokenize, split_of


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
