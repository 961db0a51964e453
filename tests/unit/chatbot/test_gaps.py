"""FAQ gaps: unanswered turns grouped by question (``chatbot.gaps``), on hand-made vectors."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt
import pytest
from scipy.cluster.hierarchy import fcluster, linkage

from chatbot.gaps import (
    DIMENSION,
    Gap,
    GapReason,
    GapTurn,
    cluster,
    decode_vector,
    encode_vector,
)

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def _unit(v: npt.NDArray[np.float64]) -> npt.NDArray[np.float32]:
    return (v / np.linalg.norm(v)).astype(np.float32)


def _axis(i: int, dim: int = 8) -> npt.NDArray[np.float64]:
    v = np.zeros(dim)
    v[i] = 1.0
    return v


def _near(i: int, j: int, weight: float) -> npt.NDArray[np.float32]:
    """Axis i tilted towards axis j: cosine with axis i is 1 / sqrt(1 + weight²)."""
    return _unit(_axis(i) + weight * _axis(j))


def _turn(
    mid: str,
    question: str,
    vector: npt.NDArray[np.float32],
    minutes: int = 0,
    reason: GapReason = GapReason.ABSTAIN,
) -> GapTurn:
    return GapTurn(mid, question, T0 + timedelta(minutes=minutes), reason, vector)


def _card_and_loan() -> list[GapTurn]:
    """Three paraphrases about a card (axis 0), two about a loan (axis 3), one unrelated."""
    return [
        _turn("m1", "I lost my card", _near(0, 1, 0.1), 0, GapReason.ABSTAIN),
        _turn("m2", "card missing, what now?", _near(0, 2, 0.2), 5, GapReason.HANDOFF),
        _turn("m3", "Where is my card??", _near(0, 1, -0.15), 9, GapReason.ABSTAIN),
        _turn("m4", "loan for a boat", _near(3, 4, 0.1), 2, GapReason.THUMBS_DOWN),
        _turn("m5", "boat loan rates", _near(3, 5, 0.1), 7, GapReason.RETRACTED),
        _turn("m6", "do you sell pizza", _unit(_axis(7)), 3, GapReason.WITHHELD),
    ]


def _partition(gaps: list[Gap]) -> set[frozenset[str]]:
    return {frozenset(g.message_ids) for g in gaps}


def test_paraphrases_join_and_unrelated_questions_stay_apart() -> None:
    gaps = cluster(_card_and_loan(), 0.7)
    assert _partition(gaps) == {
        frozenset({"m1", "m2", "m3"}),
        frozenset({"m4", "m5"}),
        frozenset({"m6"}),
    }


def test_a_threshold_above_every_pair_keeps_each_turn_alone() -> None:
    gaps = cluster(_card_and_loan(), 0.999)
    assert [g.size for g in gaps] == [1] * 6


def test_groups_are_sorted_by_size_then_most_recent() -> None:
    turns = [
        *_card_and_loan(),
        _turn("m7", "savings interest", _unit(_axis(6)), 30),  # a later singleton
    ]
    gaps = cluster(turns, 0.7)
    assert [g.size for g in gaps] == [3, 2, 1, 1]
    assert [g.id for g in gaps[2:]] == ["m7", "m6"]  # the newer singleton first
    assert gaps[0].first_seen == T0
    assert gaps[0].last_seen == T0 + timedelta(minutes=9)


def test_the_id_is_the_first_member_and_stays_when_a_later_turn_joins() -> None:
    turns = _card_and_loan()
    before = next(g for g in cluster(turns, 0.7) if "m1" in g.message_ids)
    later = _turn("m0", "my card is gone", _near(0, 2, -0.1), 60)  # smaller id, newer turn
    after = next(g for g in cluster([*turns, later], 0.7) if "m1" in g.message_ids)
    assert before.id == after.id == "m1"
    assert after.size == before.size + 1
    assert after.message_ids == ("m1", "m2", "m3", "m0")  # oldest first


def test_ties_in_time_give_the_smallest_message_id() -> None:
    v = _near(0, 1, 0.1)
    gaps = cluster([_turn("b", "card?", v, 0), _turn("a", "card!", v, 0)], 0.7)
    assert [g.id for g in gaps] == ["a"]


def test_reasons_are_counted_most_frequent_first() -> None:
    gaps = cluster(_card_and_loan(), 0.7)
    card = next(g for g in gaps if g.id == "m1")
    assert card.reasons == {GapReason.ABSTAIN: 2, GapReason.HANDOFF: 1}
    assert list(card.reasons) == [GapReason.ABSTAIN, GapReason.HANDOFF]
    assert sum(sum(g.reasons.values()) for g in gaps) == 6


def test_examples_are_distinct_most_central_first_and_capped() -> None:
    centre = _near(0, 1, 0.0)
    turns = [
        _turn("m1", "card lost", _near(0, 1, 0.4), 0),
        _turn("m2", "Card  LOST", _near(0, 1, 0.4), 1),  # the same question again
        _turn("m3", "lost card", centre, 2),
        _turn("m4", "where's my card", _near(0, 2, 0.2), 3),
        _turn("m5", "card gone", _near(0, 2, -0.3), 4),
    ]
    (gap,) = cluster(turns, 0.7)
    assert gap.examples[0] == "lost card"
    assert len(gap.examples) == len({" ".join(e.casefold().split()) for e in gap.examples}) == 4
    assert "card lost" in gap.examples and "Card  LOST" not in gap.examples
    assert cluster(turns, 0.7, max_examples=2)[0].examples == gap.examples[:2]


def test_the_result_does_not_depend_on_input_order() -> None:
    turns = _card_and_loan()
    expected = cluster(turns, 0.7)
    for order in itertools.islice(itertools.permutations(turns), 0, 720, 37):
        assert cluster(list(order), 0.7) == expected


def test_average_linkage_does_not_chain() -> None:
    """a ~ b ~ c ~ d pairwise, a and d far apart: single linkage would make one group."""
    angles = np.radians([0.0, 40.0, 80.0, 120.0])
    vectors = [_unit(np.array([np.cos(t), np.sin(t), 0.0])) for t in angles]
    turns = [_turn(f"m{i}", f"q{i}", v, i) for i, v in enumerate(vectors)]
    gaps = cluster(turns, 0.75)  # cos 40 degrees is 0.77: every neighbour pair is above it
    assert max(g.size for g in gaps) == 2


@pytest.mark.parametrize("seed", range(25))
def test_groups_equal_scipys_average_linkage(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, dim = int(rng.integers(2, 60)), 12
    centres = rng.standard_normal((int(rng.integers(1, 6)), dim))
    points = centres[rng.integers(0, len(centres), n)] + rng.uniform(0.2, 1.0) * (
        rng.standard_normal((n, dim))
    )
    if seed % 3 == 0:
        points[: n // 3] = points[0]  # repeated questions
    vectors = (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)
    similarity = float(rng.uniform(0.1, 0.9))
    turns = [_turn(f"m{i:02d}", f"q{i}", v, i) for i, v in enumerate(vectors)]
    ours = _partition(cluster(turns, similarity))
    tree = linkage(vectors.astype(np.float64), method="average", metric="cosine")
    labels = fcluster(tree, t=1.0 - similarity, criterion="distance")
    theirs = {
        frozenset(f"m{i:02d}" for i in np.flatnonzero(labels == label)) for label in set(labels)
    }
    assert ours == theirs


def test_many_turns_come_back_once_each() -> None:
    rng = random.Random(3)
    turns = [
        _turn(f"m{i:04d}", f"q{i}", _near(rng.randrange(8), rng.randrange(8), rng.random()), i)
        for i in range(300)
    ]
    gaps = cluster(turns, 0.8)
    ids = [mid for g in gaps for mid in g.message_ids]
    assert sorted(ids) == sorted(t.message_id for t in turns)
    assert sum(g.size for g in gaps) == 300


def test_empty_in_empty_out() -> None:
    assert cluster([], 0.7) == []


def test_bad_input_is_refused() -> None:
    turns = _card_and_loan()
    with pytest.raises(ValueError, match="similarity"):
        cluster(turns, 1.5)
    with pytest.raises(ValueError, match="max_examples"):
        cluster(turns, 0.7, max_examples=0)
    with pytest.raises(ValueError, match="unique"):
        cluster([*turns, turns[0]], 0.7)
    with pytest.raises(ValueError, match="dimension"):
        cluster([*turns, _turn("x", "q", np.ones(3, dtype=np.float32))], 0.7)
    with pytest.raises(ValueError, match="non-zero"):
        cluster([*turns, _turn("x", "q", np.zeros(8, dtype=np.float32))], 0.7)


def test_vectors_round_trip_through_float16_bytes() -> None:
    rng = np.random.default_rng(0)
    vector = _unit(rng.standard_normal(DIMENSION))
    data = encode_vector(vector)
    assert len(data) == 2 * DIMENSION
    assert data == vector.astype("<f2").tobytes()  # little-endian float16, whatever the host
    back = decode_vector(data)
    assert back.dtype == np.float32 and back.shape == (DIMENSION,)
    assert abs(float(np.linalg.norm(back)) - 1.0) < 1e-6
    assert float(back @ vector) > 0.9999
    assert decode_vector(encode_vector(vector[:8]), dim=8).shape == (8,)


@pytest.mark.parametrize(
    "data",
    [b"", b"\x00" * (2 * DIMENSION - 1), b"\x00" * (2 * DIMENSION + 2), b"\x00" * DIMENSION * 4],
)
def test_a_stored_vector_of_the_wrong_length_is_refused(data: bytes) -> None:
    with pytest.raises(ValueError, match="bytes"):
        decode_vector(data)


def test_zero_or_not_finite_vectors_are_refused() -> None:
    with pytest.raises(ValueError, match="zero"):
        decode_vector(b"\x00" * (2 * DIMENSION))
    nan = np.full(DIMENSION, np.nan, dtype=np.float32)
    with pytest.raises(ValueError, match="NaN"):
        encode_vector(nan)
    with pytest.raises(ValueError, match="zero or not finite"):
        decode_vector(nan.astype("<f2").tobytes())
    with pytest.raises(ValueError, match="1-D"):
        encode_vector(np.ones((2, 3), dtype=np.float32))
