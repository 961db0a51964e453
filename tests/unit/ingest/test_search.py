from __future__ import annotations

import pytest

from ingest.search import fuse


def test_fuse_adds_scaled_bm25_to_cosine() -> None:
    fused = fuse({1: 0.5, 2: 0.6, 3: 0.4}, {1: 8.0, 3: 4.0}, weight=0.1)
    assert fused == pytest.approx({1: 0.6, 2: 0.6, 3: 0.45})


def test_fuse_without_lexical_hits_is_the_cosine() -> None:
    assert fuse({1: 0.5}, {}, weight=0.1) == {1: 0.5}
    assert fuse({1: 0.5}, {1: 3.0}, weight=0.0) == {1: 0.5}
