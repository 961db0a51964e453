"""The claim check of ``bench/answers.py``: the output rail on hand-labelled sentences the
embedded engine wrote, today's check (the baseline commit's ``rails/grounding.py``) beside
the working tree's."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
import time
from collections import Counter
from typing import Any

from bench.answers_corpus import REPO, Corpus, baseline_tree, read_jsonl
from ingest.embeddings import Embedder
from ingest.store import current_version
from rails import grounding


def _baseline_grounding() -> Any:
    """``rails/grounding.py`` as it was at ``BASELINE`` (today's lexical check over all chunks
    together), loaded under its own name beside the working tree's."""
    path = baseline_tree() / "rails" / "grounding.py"
    spec = importlib.util.spec_from_file_location("baseline_grounding", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def claim_check(corpus: Corpus, embedder: Embedder, calibrate: bool = False) -> None:
    """The output rail's claim check on sentences the embedded engine wrote for development
    questions (``bench/external/engine_outputs.py``), each read and labelled by hand
    (``supported``, ``unsupported``, or ``no_claim``: courtesy, an offer of a human, the
    question repeated, markup), side by side with today's check. The answers are split in two
    by position: the even ones calibrate (``--calibrate`` prints the grid of the extractive
    threshold there), the odd ones are reported. Precision and recall are for catching
    ``unsupported`` sentences; the time is per sentence (vectors cached by a first pass, so
    the figures compare the checks, not the embedding model)."""
    path = REPO / "bench" / "external" / f"grounding-{corpus.name}.jsonl"
    if not path.is_file():
        print(f"\n{corpus.name}: no labelled engine outputs ({path.name}); claim check skipped")
        return
    chunks = _chunk_texts(corpus)
    questions = {
        hashlib.sha256(q["text"].encode()).hexdigest()[:16]: q["text"]
        for q in corpus.queries("dev")
    }
    rows = read_jsonl(path)
    for row in rows:
        row["context"] = [chunks[cid] for cid in row["chunk_ids"] if cid in chunks]
        row["question"] = questions.get(row["question_sha"], "")
    fit = [r for r in rows if r["answer_index"] % 2 == 0]
    held = [r for r in rows if r["answer_index"] % 2 == 1]
    if calibrate:
        print(f"\n{corpus.name}: extractive threshold on the calibration half ({len(fit)})")
        for value in (0.0, 0.3, 0.5, 0.7):
            for semantic in (0.7, 0.75, 0.8, 0.85, 1.01):
                t = grounding.Thresholds(extractive=value, semantic=semantic)
                c = _claim_counts(grounding, fit, embedder, t)
                print(f"  extractive {value:.1f} semantic {semantic:.2f}  " + _claim_line(c, fit))
        return
    print(
        f"\n{corpus.name}: claim check on {len(held)} hand-labelled sentences the engine wrote "
        f"(the held-out half of {len(rows)}: {dict(Counter(r['label'] for r in held))})"
    )
    for label, module in (("today", _baseline_grounding()), ("new", grounding)):
        _claim_counts(module, held, embedder)  # warm the embedder's cache
        start = time.perf_counter()
        c = _claim_counts(module, held, embedder)
        us = 1e6 * (time.perf_counter() - start) / max(len(held), 1)
        print(f"  {label:<6} " + _claim_line(c, held) + f"  {us:.0f} us/sentence")


def _claim_counts(
    module: Any, rows: list[dict[str, Any]], embedder: Embedder, thresholds: Any = None
) -> Counter[str]:
    c: Counter[str] = Counter()
    for row in rows:
        checks = module.check(
            row["sentence"], row["context"], embedder, thresholds, question=row["question"]
        )
        flagged = not module.grounded(checks)
        bad = row["label"] == "unsupported"
        c["tp" if flagged and bad else "fp" if flagged else "fn" if bad else "tn"] += 1
        c[f"{row['label']}:{'flagged' if flagged else 'passed'}"] += 1
    return c


def _claim_line(c: Counter[str], rows: list[dict[str, Any]]) -> str:
    labels = Counter(r["label"] for r in rows)
    tp, fp, fn = c["tp"], c["fp"], c["fn"]
    return (
        f"precision {tp / max(tp + fp, 1):.3f}  recall {tp / max(tp + fn, 1):.3f}  "
        f"supported flagged {c['supported:flagged']}/{labels['supported']}  "
        f"no-claim flagged {c['no_claim:flagged']}/{labels['no_claim']}  "
        f"unsupported passed {fn}/{labels['unsupported']} "
        f"({100 * fn / max(len(rows), 1):.1f} % of sentences)"
    )


def _chunk_texts(corpus: Corpus) -> dict[str, str]:
    version = current_version(corpus.index_dir)
    assert version is not None
    texts = {}
    with (corpus.index_dir / version / "chunks.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            chunk = json.loads(line)
            texts[chunk["id"]] = chunk["text"]
    return texts
