"""FAQ gaps: the turns the bot could not answer well, grouped by what the customer asked.

A turn is a gap turn when the bot abstained, retracted or withheld its answer, handed the
customer to a person, or got a thumbs-down. :func:`cluster` groups their (PII-masked)
questions by their query embeddings, so the support team sees that forty customers asked
about one missing topic instead of forty rows.

The grouping is average-linkage agglomerative clustering on cosine similarity, cut at
``similarity``: two groups merge while the mean cosine over all their cross pairs is at least
``similarity``, best pair first. Average linkage rather than single linkage (a threshold graph's
connected components), because paraphrases chain: "lost my card" ~ "card stolen" ~ "card
declined" ~ "transfer declined" would become one group. Two facts keep it cheap and exact
without a pairwise matrix:

- vectors are unit norm, so the mean cosine between groups A and B is ``sum(A) . sum(B) /
  (|A| |B|)``: each group carries the sum of its vectors and any linkage is one dot product;
- the mean over pairs is at least ``similarity`` only if some pair is, and the linkage of a
  merged group is the size-weighted mean of its parts' (Lance-Williams), so the only
  candidates ever worth a look are the pairs already at or above the threshold. They start as
  a FAISS nearest-neighbour graph (``_NEIGHBOURS`` per turn, which bounds memory to O(n)), and
  a pair that falls below the threshold is dropped for good.

Merges happen in rounds (Reciprocal Agglomerative Clustering): every two groups that are each
other's best candidate merge at once, which for average linkage gives the groups that merging
one best pair at a time does, with whole-array numpy work per round instead of a Python loop
per merge. Repeated questions (equal vectors) start as one group.

The one approximation is the neighbour cap: two groups joined only through turns that are not
among each other's nearest neighbours are never compared, which can happen only inside regions
denser than the cap, where the groups are joined through other pairs anyway. Below the cap the
groups are those of average linkage cut at ``1 - similarity`` (the unit tests compare them with
SciPy's).

Turns are put in a canonical order (created_at, message_id) before anything else, so the
result does not depend on the order they came in, and ties are broken by that order.

:func:`encode_vector` / :func:`decode_vector` store a vector in the durable store as
little-endian float16: half the bytes of float32, and the rounding (relative 1e-3 per
component) is far below the differences between a threshold's neighbours.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

DIMENSION = 384
"""all-MiniLM-L6-v2's, the default embedder's: what :func:`decode_vector` expects by default."""

_NEIGHBOURS = 64
"""Nearest neighbours per turn that seed the candidate pairs (see the module docstring)."""

_STORED = np.dtype("<f2")


class GapReason(StrEnum):
    """Why a turn counts as unanswered."""

    ABSTAIN = "abstain"
    RETRACTED = "retracted"
    WITHHELD = "withheld"
    HANDOFF = "handoff"
    THUMBS_DOWN = "thumbs_down"


@dataclass(frozen=True, slots=True)
class GapTurn:
    message_id: str
    question: str
    """The masked text."""
    created_at: datetime
    """Aware, UTC."""
    reason: GapReason
    vector: npt.NDArray[np.float32]
    """The query embedding, float32, unit norm."""


@dataclass(frozen=True, slots=True)
class Gap:
    id: str
    """The message_id of the member created first (ties: the smallest message_id), so the id
    stays the same while later turns join the group."""
    size: int
    first_seen: datetime
    last_seen: datetime
    reasons: dict[GapReason, int]
    """Turns per reason, most frequent first (ties in GapReason's order)."""
    examples: tuple[str, ...]
    """Distinct questions, the most central (closest to the group's mean) first."""
    message_ids: tuple[str, ...]
    """Oldest first."""


def cluster(turns: Sequence[GapTurn], similarity: float, *, max_examples: int = 5) -> list[Gap]:
    """Group ``turns`` by question; groups sorted by size, then most recent, then id.

    ``similarity`` is the mean cosine between two groups at or above which they are merged
    (``Settings.gap_similarity``). A turn like no other is a group of its own.
    """
    if not -1.0 <= similarity <= 1.0:
        raise ValueError(f"similarity must be a cosine in [-1, 1], not {similarity}")
    if max_examples < 1:
        raise ValueError(f"max_examples must be at least 1, not {max_examples}")
    if not turns:
        return []
    ordered = sorted(turns, key=lambda t: (t.created_at, t.message_id))
    ids = [t.message_id for t in ordered]
    if len(set(ids)) != len(ids):
        raise ValueError("message_ids must be unique: a turn counted twice inflates its gap")
    vectors = _matrix(ordered)
    labels = _labels(vectors, similarity)
    groups: dict[int, list[int]] = {}
    for row, label in enumerate(labels.tolist()):
        groups.setdefault(label, []).append(row)  # rows ascend: members stay oldest first
    gaps = [_gap(ordered, vectors, rows, max_examples) for rows in groups.values()]
    gaps.sort(key=lambda g: (-g.size, -g.last_seen.timestamp(), g.id))
    return gaps


def encode_vector(vector: npt.NDArray[np.floating[Any]]) -> bytes:
    """A 1-D vector as little-endian float16 bytes, for the durable store."""
    array = np.asarray(vector)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"expected a non-empty 1-D vector, got shape {array.shape}")
    stored = array.astype(_STORED)  # what float16 cannot hold becomes infinite
    if not np.isfinite(stored).all():
        raise ValueError("vector has values float16 cannot hold (NaN, infinite or too large)")
    return stored.tobytes()


def decode_vector(data: bytes, *, dim: int = DIMENSION) -> npt.NDArray[np.float32]:
    """Bytes from :func:`encode_vector` back to a float32 unit vector of ``dim`` components."""
    expected = dim * _STORED.itemsize
    if len(data) != expected:
        raise ValueError(
            f"a stored vector of dimension {dim} is {expected} bytes (float16), got {len(data)}"
        )
    vector = np.frombuffer(data, dtype=_STORED).astype(np.float32)
    norm = float(np.linalg.norm(vector))
    if not np.isfinite(norm) or norm == 0.0:
        raise ValueError("stored vector is zero or not finite")
    # float16 rounding moves the norm slightly: renormalise so dot products are cosines.
    vector /= norm
    return vector


def _matrix(turns: Sequence[GapTurn]) -> npt.NDArray[np.float32]:
    dims = {np.shape(t.vector) for t in turns}
    if len(dims) != 1 or len(next(iter(dims))) != 1:
        raise ValueError(f"every vector must be 1-D of one dimension, got shapes {sorted(dims)}")
    vectors = np.stack([np.asarray(t.vector, dtype=np.float32) for t in turns])
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    if not np.all(np.isfinite(norms)) or np.any(norms == 0.0):
        raise ValueError("vectors must be finite and non-zero")
    # Renormalised: float16 storage and callers' rounding must not bias the cosines.
    return np.ascontiguousarray(vectors / norms, dtype=np.float32)


def _candidate_pairs(
    vectors: npt.NDArray[np.float32], similarity: float
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """Pairs (i < j) at or above ``similarity`` among each turn's nearest neighbours."""
    n, dim = vectors.shape
    index = faiss.IndexFlatIP(dim)
    index.add(vectors)
    k = min(_NEIGHBOURS + 1, n)  # + 1: a turn finds itself
    sims, rows = index.search(vectors, k)
    left = np.repeat(np.arange(n, dtype=np.int64), k)
    right = rows.reshape(-1).astype(np.int64)
    flat = sims.reshape(-1)
    keep = (right >= 0) & (right != left) & (flat >= similarity)
    low = np.minimum(left[keep], right[keep])
    high = np.maximum(left[keep], right[keep])
    # A pair found from both ends appears twice: keep one (the order is canonical).
    _, first = np.unique(low * n + high, return_index=True)
    return low[first], high[first], flat[keep][first]


def _labels(vectors: npt.NDArray[np.float32], similarity: float) -> npt.NDArray[np.int32]:
    """Average-linkage clusters cut at ``similarity``, a label per row, merged in rounds of
    reciprocal best pairs (RAC, Sumengen et al. 2021: exact for a reducible linkage such as the
    average)."""
    # Repeated questions have equal vectors, whose linkage (1) is the highest there is: they
    # start as one group, so a burst of one question costs what one copy does.
    _, first, inverse, counts = np.unique(
        vectors, axis=0, return_index=True, return_inverse=True, return_counts=True
    )
    by_age = np.argsort(first)  # slots in the order of their oldest copy
    rank = np.empty_like(by_age)
    rank[by_age] = np.arange(len(by_age))
    distinct_vectors = vectors[first[by_age]]
    n = len(distinct_vectors)
    sizes = counts[by_age].astype(np.float64)
    sums = distinct_vectors.astype(np.float64) * sizes[:, None]  # in the oldest copy's slot
    # Between single vectors the linkage is the cosine that the neighbour search returned.
    low, high, cosines = _candidate_pairs(distinct_vectors, similarity)
    linkage = cosines.astype(np.float64)
    slot = np.arange(n, dtype=np.int64)  # where each slot's group went (itself while alive)
    grown = np.zeros(n, dtype=bool)  # groups whose linkage must be recomputed
    merged_low: list[npt.NDArray[np.int64]] = []
    merged_high: list[npt.NDArray[np.int64]] = []
    while len(low):
        linkage = _refresh(sums, sizes, low, high, linkage, grown)
        # Below the threshold now means below it for good: a merge on either side averages
        # this linkage with others that are themselves below it (else they are candidates).
        keep = linkage >= similarity
        low, high, linkage = low[keep], high[keep], linkage[keep]
        if not len(low):
            break
        best = _best_candidates(n, low, high, linkage)
        mutual = (best[low] == high) & (best[high] == low)
        a, b = low[mutual], high[mutual]  # a < b: the group lives on in the older slot
        merged_low.append(a)
        merged_high.append(b)
        sums[a] += sums[b]
        sizes[a] += sizes[b]
        slot[b] = a
        grown[:] = False
        grown[a] = True
        # Candidates of a merged group are its parts' candidates; duplicates collapse.
        low, high = slot[low], slot[high]
        low, high = np.minimum(low, high), np.maximum(low, high)
        distinct = low != high
        pairs, first = np.unique(low[distinct] * n + high[distinct], return_index=True)
        linkage = linkage[distinct][first]
        low, high = pairs // n, pairs % n
    rows = np.concatenate([np.empty(0, dtype=np.int64), *merged_low])
    cols = np.concatenate([np.empty(0, dtype=np.int64), *merged_high])
    graph = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    found: npt.NDArray[np.int32] = labels[rank[inverse.reshape(-1)]].astype(np.int32)
    return found


def _refresh(
    sums: npt.NDArray[np.float64],
    sizes: npt.NDArray[np.float64],
    low: npt.NDArray[np.int64],
    high: npt.NDArray[np.int64],
    linkage: npt.NDArray[np.float64],
    grown: npt.NDArray[np.bool_],
    step: int = 4096,
) -> npt.NDArray[np.float64]:
    """Mean cosine of the pairs that touch a grown group, in slices to bound memory."""
    out = linkage.copy()
    todo = np.flatnonzero(grown[low] | grown[high])
    for start in range(0, len(todo), step):
        rows = todo[start : start + step]
        left, right = low[rows], high[rows]
        dots = np.einsum("ij,ij->i", sums[left], sums[right])
        out[rows] = dots / (sizes[left] * sizes[right])
    return out


def _best_candidates(
    n: int,
    low: npt.NDArray[np.int64],
    high: npt.NDArray[np.int64],
    linkage: npt.NDArray[np.float64],
) -> npt.NDArray[np.int64]:
    """Each group's candidate of highest linkage (ties: the oldest), -1 for none."""
    source = np.concatenate([low, high])
    target = np.concatenate([high, low])
    value = np.concatenate([linkage, linkage])
    top = np.full(n, -np.inf)
    np.maximum.at(top, source, value)
    tied = value == top[source]
    best = np.full(n, n, dtype=np.int64)
    np.minimum.at(best, source[tied], target[tied])
    best[best == n] = -1
    return best


def _gap(
    turns: Sequence[GapTurn],
    vectors: npt.NDArray[np.float32],
    rows: list[int],
    max_examples: int,
) -> Gap:
    members = [turns[r] for r in rows]
    centre = vectors[rows].astype(np.float64).sum(axis=0)
    closeness = vectors[rows].astype(np.float64) @ centre
    # Most central first; equal closeness (repeated questions) keeps the oldest first.
    by_centrality = sorted(range(len(rows)), key=lambda m: (-closeness[m], m))
    examples: list[str] = []
    seen: set[str] = set()
    for m in by_centrality:
        question = members[m].question
        key = " ".join(question.casefold().split())
        if key in seen:
            continue
        seen.add(key)
        examples.append(question)
        if len(examples) == max_examples:
            break
    order = {reason: rank for rank, reason in enumerate(GapReason)}
    counted = Counter(t.reason for t in members)
    reasons = dict(sorted(counted.items(), key=lambda item: (-item[1], order[item[0]])))
    return Gap(
        id=members[0].message_id,
        size=len(members),
        first_seen=members[0].created_at,
        last_seen=max(t.created_at for t in members),
        reasons=reasons,
        examples=tuple(examples),
        message_ids=tuple(t.message_id for t in members),
    )
