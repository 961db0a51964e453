"""Fit the injection classifier and the topical intents: ``python bench/fit_rails.py``
(rewrites ``rails/exemplars/classifier.json``, ``lexical.npz``, ``rails/default/topics.co`` and
the classifier's thresholds in ``rails/calibration.json``; run it after editing the exemplars).

The train split (``rails/exemplars/``) fits a logistic regression over MiniLM embeddings and
hashed n-grams (:func:`rails.injection.lexical_features`; their weights go to ``lexical.npz``);
the regularisation and the threshold are chosen on the validation split
(``bench/data/rails/*-validation.jsonl``), never on the test split. The threshold is the
lowest one at which the patterns and the classifier together refuse at most
``MAX_FALSE_REFUSALS`` of the validation's benign messages and conversations; the caution
threshold below it is the lowest one at which at most ``MAX_WITHHELD`` of them more are answered
without the model (:attr:`rails.injection.LinearClassifier.caution`). The classifier file
records a hash of its training data so a test can tell when it is stale.

The calibration file's other thresholds are chosen from sweeps other tools print
(``bench/rails_eval.py --conversation-thresholds`` and ``--calibrate``, ``bench/answers.py
--calibrate``); ``--set SECTION.KEY=VALUE`` records such a choice without refitting. This tool
is the one writer of the file, so it stays whole and valid.

It lives in bench/, not in the shipped ``rails`` package: it reads bench/data and is run by
the team, never by a deployment.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import sparse
from sklearn.linear_model import LogisticRegression

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from ingest.config import EmbeddingConfig  # noqa: E402
from ingest.embeddings import Embedder  # noqa: E402
from rails.calibration import CALIBRATION_PATH, Calibration  # noqa: E402
from rails.injection import (  # noqa: E402
    CLASSIFIER_PATH,
    InjectionDetector,
    LinearClassifier,
    lexical_features,
    match_patterns,
)
from rails.normalize import views  # noqa: E402

EXEMPLARS = CLASSIFIER_PATH.parent
VALIDATION = REPO / "bench" / "data" / "rails"
MAX_FALSE_REFUSALS = 0.01
# A withheld answer still gives the FAQ entries found and a human, so it may cost more genuine
# questions than a refusal: as many as the 2 % of genuine refusals the rails are allowed.
MAX_WITHHELD = 0.02
C_GRID = (1.0, 4.0, 16.0, 64.0)
# Weights below this change no probability by more than 0.003 on validation; dropping them
# keeps lexical.npz small.
MIN_LEXICAL_WEIGHT = 0.01


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


def _view_scores(
    model: LinearClassifier, embedder: Embedder, items: list[Sample]
) -> npt.NDArray[np.float64]:
    """Highest probability over each item's views, as the detector computes it: the message
    encoded on its own (the int8 model's vectors shift a little with what shares a padded
    batch, enough to move a score across the threshold), its other views together."""
    detector = InjectionDetector(embedder, model)
    return np.asarray([detector.score(views(s.text)) for s in items])


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


def choose_caution(
    scores: npt.NDArray[np.float64], items: list[Sample], threshold: float
) -> tuple[float, float]:
    """Lowest caution threshold (up to ``threshold``) that withholds the model from at most
    ``MAX_WITHHELD`` of the benign items the patterns and the classifier let through; returns it
    with the share of attacks refused or withheld."""
    attack = np.array([s.attack for s in items])
    passed = np.array([match_patterns(views(s.text)) is None for s in items]) & (scores < threshold)
    benign = (~attack).sum()
    caution = threshold
    for candidate in np.round(np.arange(threshold - 0.01, 0.0, -0.01), 2):
        if (passed & ~attack & (scores >= candidate)).sum() > MAX_WITHHELD * benign:
            break
        caution = float(candidate)
    kept = ~passed | (scores >= caution)
    return caution, float((kept & attack).sum() / attack.sum())


TOPICS = CLASSIFIER_PATH.parents[1] / "default" / "topics.co"


def topics_colang() -> str:
    """The topical rail's intents from the train split: off-topic requests against genuine
    banking questions, so NeMo's nearest-example match decides between the two."""

    def quoted(text: str) -> str:
        return '  "' + " ".join(text.split()).replace("\\", " ").replace('"', "'") + '"'

    rows = read_jsonl(EXEMPLARS / "messages.jsonl")
    off_topic = [quoted(r["text"]) for r in rows if r["label"] == "off_topic"]
    genuine = [quoted(r["text"]) for r in rows if r["label"] == "genuine"]
    return (
        "# Generated by `python bench/fit_rails.py` from rails/exemplars/messages.jsonl: do not\n"
        "# edit.\n"
        "# The topical rail: NeMo matches a message to its nearest example; off-topic examples\n"
        "# lead to the refusal in dialog.co, banking questions to the FAQ answer.\n\n"
        "define user ask off topic\n" + "\n".join(off_topic) + "\n\n"
        "define user ask question\n" + "\n".join(genuine) + "\n"
    )


def main() -> None:
    TOPICS.write_text(topics_colang(), encoding="utf-8")
    embedder = Embedder(EmbeddingConfig())
    train = samples(EXEMPLARS / "messages.jsonl", EXEMPLARS / "conversations.jsonl")
    valid = samples(
        VALIDATION / "messages-validation.jsonl", VALIDATION / "conversations-validation.jsonl"
    )
    texts = [s.text for s in train]
    embedded = embedder.encode(texts)
    x = sparse.hstack([sparse.csr_matrix(embedded), lexical_features(texts)], format="csr")
    y = np.array([s.attack for s in train])
    dim = embedded.shape[1]
    best: tuple[float, float, float, LinearClassifier, npt.NDArray[np.float64]] | None = None
    for c in C_GRID:
        fitted = LogisticRegression(C=c, class_weight="balanced", max_iter=5000).fit(x, y)
        weights = fitted.coef_[0].astype(np.float32)
        lexical = fitted.coef_[0][dim:].astype(np.float64)
        lexical[np.abs(lexical) < MIN_LEXICAL_WEIGHT] = 0.0
        model = LinearClassifier(
            coef=weights[:dim],
            intercept=float(fitted.intercept_[0]),
            threshold=0.5,
            meta={},
            lexical=lexical,
        )
        scores = _view_scores(model, embedder, valid)
        threshold, recall = choose_threshold(scores, valid)
        print(f"C={c}: threshold {threshold:.2f}, validation recall {recall:.3f}")
        if best is None or recall > best[1]:
            best = (c, recall, threshold, model, scores)
    assert best is not None
    c, recall, threshold, model, scores = best
    caution, kept = choose_caution(scores, valid, threshold)
    print(f"caution threshold {caution:.2f}: validation attacks refused or withheld {kept:.3f}")
    meta = {
        "C": c,
        "embedding_model": embedder.fingerprint,
        # The vectors it was fitted on: another backend or int8 format shifts them enough to
        # move scores across the threshold.
        "embedding_variant": embedder.variant,
        "train_sha256": training_hash(),
        "train_size": len(train),
        "validation_recall": round(recall, 4),
        "max_false_refusals": MAX_FALSE_REFUSALS,
        "validation_kept_from_model": round(kept, 4),
        "max_withheld": MAX_WITHHELD,
    }
    LinearClassifier(model.coef, model.intercept, threshold, meta, model.lexical, caution).save()
    calibration = Calibration.load()
    injection = replace(calibration.injection, threshold=threshold, caution=caution)
    replace(calibration, injection=injection).save()
    print(f"wrote {CLASSIFIER_PATH} (C={c}) and {CALIBRATION_PATH} (threshold {threshold:.2f}, "
          f"caution {caution:.2f})")  # fmt: skip


def set_thresholds(assignments: list[str], path: Path = CALIBRATION_PATH) -> Calibration:
    """``section.key=value`` pairs written into the calibration file, which must stay loadable
    (an unknown section or key is refused)."""
    data = Calibration.load(path).to_dict()
    for assignment in assignments:
        name, _, value = assignment.partition("=")
        section, _, key = name.strip().partition(".")
        if section not in data or key not in data[section] or not value:
            raise SystemExit(f"--set {assignment!r}: expected SECTION.KEY=VALUE of {path.name}")
        data[section][key] = json.loads(value)
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return Calibration.load(path)


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="record a threshold in rails/calibration.json without refitting (repeatable)",
    )
    args = parser.parse_args()
    if args.set:
        print(set_thresholds(args.set))
        return
    main()


if __name__ == "__main__":
    cli()
