"""How ``bench/fit_rails.py`` chooses the caution threshold below the refusal threshold."""

from __future__ import annotations

import numpy as np
import pytest

from bench import fit_rails as fit
from bench.fit_rails import Sample, choose_caution


def test_caution_spends_its_budget_on_benign_messages_the_classifier_lets_through() -> None:
    # 100 benign messages scored 0.00..0.99 and two attacks under the refusal threshold.
    items = [Sample(f"benign message {i}", False) for i in range(100)]
    items += [Sample("attack scored 0.94", True), Sample("attack scored 0.50", True)]
    scores = np.array([i / 100 for i in range(100)] + [0.94, 0.50])
    # Refused from 0.95 up (5 benign); MAX_WITHHELD of 100 benign may be withheld below it.
    caution, kept = choose_caution(scores, items, threshold=0.95)
    withheld = round(fit.MAX_WITHHELD * 100)
    assert caution == round(0.95 - withheld / 100, 2)
    assert ((scores[:100] >= caution) & (scores[:100] < 0.95)).sum() == withheld
    assert kept == 0.5  # the attack at 0.94 is withheld, the one at 0.50 is not


def test_no_budget_means_no_caution_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fit, "MAX_WITHHELD", 0.0)
    items = [Sample("benign", False), Sample("attack", True)]
    caution, kept = choose_caution(np.array([0.89, 0.2]), items, threshold=0.9)
    assert caution == 0.9 and kept == 0.0
