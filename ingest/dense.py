"""FAISS dense index: exact inner product for small corpora, IVF above a threshold.

IVF rather than HNSW for the approximate case: on 2 CPU cores an IVF index over a million
384-d vectors trains and fills in about a minute, where HNSW construction takes many times
longer, and with enough probes it meets the recall target (``bench/retrieval.py``).
"""

from __future__ import annotations

import math

import faiss
import numpy as np
import numpy.typing as npt


def ivf_lists(n: int) -> int:
    """Number of IVF cells: about 4·sqrt(n), so each cell holds a few hundred vectors."""
    return max(1, min(65_536, int(4 * math.sqrt(n))))


def build_dense_index(
    vectors: npt.NDArray[np.float32], ann_threshold: int, seed: int = 1234
) -> faiss.Index:
    n, dim = vectors.shape
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    index: faiss.Index
    if n < ann_threshold:
        index = faiss.IndexFlatIP(dim)
    else:
        nlist = ivf_lists(n)
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        # k-means needs ~40 points per centroid; more only slows training.
        rng = np.random.default_rng(seed)
        sample = vectors[rng.choice(n, size=min(n, nlist * 64), replace=False)]
        index.train(sample)
    index.add(vectors)
    return index


def set_nprobe(index: faiss.Index, nprobe: int) -> None:
    ivf = faiss.try_extract_index_ivf(index)
    if ivf is not None:
        ivf.nprobe = min(nprobe, ivf.nlist)


def describe(index: faiss.Index) -> str:
    ivf = faiss.try_extract_index_ivf(index)
    return f"IVF{ivf.nlist},Flat" if ivf is not None else "Flat"
