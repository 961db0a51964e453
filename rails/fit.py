"""Fit the injection classifier: ``python -m rails.fit`` (rewrites
``rails/exemplars/classifier.json``; run it after editing the exemplars).

The train split (``rails/exemplars/``) fits a logistic regression over MiniLM embeddings;
the regularisation and the threshold are chosen on the validation split
(``bench/data/rails/*-validation.jsonl``), never on the test split. The threshold is the
lowest one at which the patterns and the classifier together refuse at most
``MAX_FALSE_REFUSALS`` of the validation's benign messages and conversations. The file records
a hash of its training data so a test can tell when it is stale.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.linear_model import LogisticRegression

from ingest.config import EmbeddingConfig
from ingest.embeddings import Embedder
from rails.injection import CLASSIFIER_PATH, LinearClassifier, match_patterns
from rails.normalize import views

EXEMPLARS = CLASSIFIER_PATH.parent
VALIDATION = Path(__file__).resolve().parents[1] / "bench" / "data" / "rails"
MAX_FALSE_REFUSALS = 0.01
C_GRID = (0.25, 1.0, 4.0, 16.0)


@dataclass(frozen=True)
class Sample:
    text: str
    attack: bool


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def samples(messages: Path, conversations: Path) -> list[Sample]:
    out = [Sample(r["text"], r["label"] == "attack") for r in read_jsonl(messages)]
    out += [
        Sample("\n".join(r["turns"]), r["label"] == "attack") for r in read_jsonl(conversations)
    ]
    return out


def training_hash() -> str:
    digest = hashlib.sha256()
    for name in ("messages.jsonl", "conversations.jsonl"):
        digest.update((EXEMPLARS / name).read_bytes())
    return digest.hexdigest()


def _vectors(embedder: Embedder, texts: list[str]) -> npt.NDArray[np.float32]:
    return embedder.encode(texts)


def _view_scores(
    model: LinearClassifier, embedder: Embedder, items: list[Sample]
) -> npt.NDArray[np.float64]:
    """Highest probability over each item's views, as the detector computes it."""
    all_views = [views(s.text) for s in items]
    flat = [v for vs in all_views for v in vs]
    probs = model.probability(_vectors(embedder, flat))
    out, at = [], 0
    for vs in all_views:
        out.append(float(probs[at : at + len(vs)].max()))
        at += len(vs)
    return np.asarray(out)


def choose_threshold(scores: npt.NDArray[np.float64], items: list[Sample]) -> tuple[float, float]:
    """Lowest threshold whose false refusals (patterns included) stay within the budget;
    returns it with the recall of attacks it reaches."""
    attack = np.array([s.attack for s in items])
    pattern = np.array([match_patterns(views(s.text)) is not None for s in items])
    benign = (~attack).sum()
    for threshold in np.round(np.arange(0.05, 1.0, 0.01), 2):
        refused = pattern | (scores >= threshold)
        if (refused & ~attack).sum() <= MAX_FALSE_REFUSALS * benign:
            return float(threshold), float((refused & attack).sum() / attack.sum())
    return 0.99, float(((pattern | (scores >= 0.99)) & attack).sum() / attack.sum())


def main() -> None:
    embedder = Embedder(EmbeddingConfig())
    train = samples(EXEMPLARS / "messages.jsonl", EXEMPLARS / "conversations.jsonl")
    valid = samples(
        VALIDATION / "messages-validation.jsonl", VALIDATION / "conversations-validation.jsonl"
    )
    x = _vectors(embedder, [s.text for s in train])
    y = np.array([s.attack for s in train])
    best: tuple[float, float, LinearClassifier] | None = None
    for c in C_GRID:
        fitted = LogisticRegression(C=c, class_weight="balanced", max_iter=5000).fit(x, y)
        model = LinearClassifier(
            coef=fitted.coef_[0].astype(np.float32),
            intercept=float(fitted.intercept_[0]),
            threshold=0.5,
            meta={},
        )
        threshold, recall = choose_threshold(_view_scores(model, embedder, valid), valid)
        print(f"C={c}: threshold {threshold:.2f}, validation recall {recall:.3f}")
        if best is None or recall > best[1]:
            best = (c, recall, LinearClassifier(model.coef, model.intercept, threshold, {}))
    assert best is not None
    c, recall, model = best
    meta = {
        "C": c,
        "embedding_model": embedder.fingerprint,
        "train_sha256": training_hash(),
        "train_size": len(train),
        "validation_recall": round(recall, 4),
        "max_false_refusals": MAX_FALSE_REFUSALS,
    }
    LinearClassifier(model.coef, model.intercept, model.threshold, meta).save()
    print(f"wrote {CLASSIFIER_PATH} (C={c}, threshold {model.threshold:.2f})")


if __name__ == "__main__":
    main()
