"""Every threshold the rails decide by, in one file: ``rails/calibration.json``.

Thresholds are measured, not designed: each was chosen on a validation split, so they live
in one data file that the fitting tool (``python bench/fit_rails.py``) writes and the code that
uses each one reads at start-up, instead of constants spread over modules, profiles and
settings. The sections and who reads them:

- ``injection``: ``threshold`` (refuse) and ``caution`` (answer without the model) of the
  message classifier, chosen by the fitting tool on the validation split
  (:meth:`rails.injection.LinearClassifier.load`); ``conversation``, the classifier's threshold
  on the recent turns read together (:data:`rails.injection.CONVERSATION_THRESHOLD`), chosen from
  ``bench/rails_eval.py --conversation-thresholds``.
- ``grounding``: the defaults of :class:`rails.grounding.Thresholds` (``bench/rails_eval.py
  --calibrate`` and ``bench/answers.py --calibrate --claims``).
- ``topical``: ``similarity``, NeMo's ``embeddings_only_similarity_threshold``, set on each
  profile by :func:`rails.load_config` (the profiles' ``config.yml`` repeat it for readers of
  the folder; a unit test keeps them equal).
- ``faq``: the relevance cosines at which retrieval overrides the rails' topical verdict
  (``on_topic``), at which a withheld or retracted answer is replaced by the closest FAQ
  entry (``suggest``), and the answer policy's (``chatbot.policy``): an FAQ question that
  says the same (``curated``), the closest entry shown as written (``entry``), and below
  ``answer`` an abstention. The defaults of ``chatbot.settings.Settings``, which operators may
  override (``bench/answers.py --calibrate``).
- ``gaps``: ``similarity``, the cosine at which two unanswered questions belong to one FAQ gap
  (``chatbot.gaps``), chosen by ``bench/gaps.py --calibrate`` on Banking77's training split;
  the default of ``Settings.gap_similarity``.

This module imports nothing heavy: the settings read it before any model loads.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

CALIBRATION_PATH = Path(__file__).resolve().parent / "calibration.json"


@dataclass(frozen=True)
class Injection:
    threshold: float
    caution: float | None
    """None: no message is answered without the model short of a refusal."""
    conversation: float


@dataclass(frozen=True)
class Grounding:
    lexical: float
    semantic: float
    doubt: float
    max_missing: int
    extractive: float


@dataclass(frozen=True)
class Topical:
    similarity: float


@dataclass(frozen=True)
class Faq:
    on_topic: float
    suggest: float
    curated: float
    entry: float
    answer: float


@dataclass(frozen=True)
class Gaps:
    similarity: float


@dataclass(frozen=True)
class Calibration:
    injection: Injection
    grounding: Grounding
    topical: Topical
    faq: Faq
    gaps: Gaps

    @classmethod
    def load(cls, path: Path = CALIBRATION_PATH) -> Calibration:
        """Every section and key is required: a missing threshold must fail at start-up, not
        fall back to a number nobody chose."""
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            injection=Injection(**data["injection"]),
            grounding=Grounding(**data["grounding"]),
            topical=Topical(**data["topical"]),
            faq=Faq(**data["faq"]),
            gaps=Gaps(**data["gaps"]),
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, path: Path = CALIBRATION_PATH) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=1) + "\n", encoding="utf-8")


CALIBRATION = Calibration.load()
"""The shipped calibration, read once at import."""
