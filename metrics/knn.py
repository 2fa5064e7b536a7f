"""Leave-one-out k-nearest-neighbour accuracy on cosine similarity.

For each sample i, its k most cosine-similar other samples (itself excluded) vote with their labels; the
score is the fraction of samples whose vote gives their own label:

    kNN = (1/N) Σ_i [ vote_k(i) = y_i ],   in [0, 1].

Deterministic tie rules: neighbours with equal similarity are taken in order of sample index (the lower
index is nearer), and when several classes get the most votes, the class of the nearest neighbour among
them wins. Both rules ignore label values, so the score does not change when the classes are renamed.

The kNN baseline in the PARC authors' code (Bolya et al., NeurIPS 2021) uses Euclidean distance, k=1 and
reports a percentage; here the similarity is cosine, k defaults to 10 and the score is a fraction.
Similarities are computed block by block (no N x N matrix is held) in two passes that give the float64 ranking
exactly: a float32 screening product of the unit rows, whose error is at most

    δ = γ_D (1 + u)² + 2u + u² + 4 D 2⁻⁵³,   u = 2⁻²⁴, γ_D = D u / (1 - D u)

per similarity of unit vectors (Higham's bound of a float32 dot product of length D, with the rounding of the
unit rows to float32, and a generous bound of float64's own rounding), keeps every column within 2δ of the row's
k-th largest screened similarity (a set that holds the true k nearest: each of them screens at least s_k - δ, and
the k-th screened value is at most s_k + δ); only those candidates are re-ranked in float64, a few query rows at
a time on the union of their candidates, by the same matrix product as a whole float64 row (so that similarities
that tie there tie here: a dot product of another kernel differs in the last bit). Memory: one float64 and one
float32 copy of the features plus a block of 4M similarities. The cost is N^2 D float32 multiply-adds (1.2e13 at
N=75,750, D=2048: 38 times ``max_queries=2000``, ``bench/bench_grid.py``), about half the time of the float64
product it replaces (1.9x at N=20,000, D=2048, 2000 queries). ``max_queries=m`` (< N) estimates the same number
from m query samples drawn uniformly without replacement (seeded by ``seed``), each voted on by its k nearest
among all N samples as above: an unbiased estimate of the exact score, standard error at most 0.5 / sqrt(m)
(0.005 at m=10,000), at a cost of m N D. An all-zero feature row (dead ReLU units on a tiny input, say) has
cosine similarity 0 with every sample, as in ``sklearn.preprocessing.normalize``, instead of making the whole
score undefined.
"""
from __future__ import annotations

import numpy as np

from metrics._checks import as_features, as_labels, as_positive_int

DEFAULT_K = 10
_BLOCK_ELEMENTS = 1 << 22
_RERANK_ROWS = 32   # query rows re-ranked together, on the union of their candidates


def knn(features, labels, *, k: int = DEFAULT_K, max_queries: int | None = None, seed: int = 0) -> float:
    """Leave-one-out k-NN accuracy (cosine similarity) of features (N, D) for labels (N,). Higher is better.

    ``max_queries``: score a seeded uniform sample of that many samples (an unbiased estimate; see the
    module docstring) instead of all N when N is larger.
    """
    x = as_features(features)
    targets, n_classes = as_labels(labels, x.shape[0])
    n_samples = x.shape[0]
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k < n_samples:
        raise ValueError(f"k must be an integer in 1..N-1 = 1..{n_samples - 1}, got {k!r}")
    norms = np.linalg.norm(x, axis=1)
    unit = np.divide(x, np.where(norms == 0, 1.0, norms)[:, None], out=x)   # an all-zero row: similarity 0 to all
    screen = unit.astype(np.float32) if _screening_error(unit.shape[1]) is not None else None
    queries = _query_rows(n_samples, max_queries, seed)
    block = max(1, _BLOCK_ELEMENTS // n_samples)
    correct = 0
    for start in range(0, len(queries), block):
        rows = queries[start:start + block]
        neighbours = _nearest_exact(unit, rows, int(k)) if screen is None else \
            _nearest_screened(unit, screen, rows, int(k))
        correct += int(np.sum(_vote(targets[neighbours], n_classes) == targets[rows]))
    return correct / len(queries)


def _screening_error(dim: int) -> float | None:
    """δ of the module docstring: the largest error of a float32 similarity of two float64 unit rows of length
    ``dim``; None where the bound does not hold (D u >= 1/2), and the float64 product is used throughout."""
    u = 2.0 ** -24
    if dim * u >= 0.5:
        return None
    gamma = dim * u / (1 - dim * u)
    float64_rounding = 4 * dim * 2.0 ** -53   # of the unit rows and of the re-ranking dot, generously
    return gamma * (1 + u) ** 2 + 2 * u + u * u + float64_rounding


def _nearest_exact(unit: np.ndarray, rows: np.ndarray, k: int) -> np.ndarray:
    """The k nearest (B, k) of each query row on its whole float64 row of similarities, itself excluded."""
    similarity = unit[rows] @ unit.T
    similarity[np.arange(len(rows)), rows] = -np.inf
    return _nearest(similarity, k)


def _nearest_screened(unit: np.ndarray, screen: np.ndarray, rows: np.ndarray, k: int) -> np.ndarray:
    """:func:`_nearest_exact` from a float32 screening product: the candidates within 2δ of the k-th screened
    similarity re-ranked in float64 (see the module docstring)."""
    similarity = screen[rows] @ screen.T
    similarity[np.arange(len(rows)), rows] = -np.inf
    kth = -np.partition(-similarity, k - 1, axis=1)[:, k - 1]
    candidate = similarity >= (kth - 2 * _screening_error(unit.shape[1]))[:, None]
    del similarity
    neighbours = np.empty((len(rows), k), dtype=np.int64)
    for start in range(0, len(rows), _RERANK_ROWS):
        part = slice(start, start + _RERANK_ROWS)
        neighbours[part] = _rerank(unit, rows[part], candidate[part], k)
    return neighbours


def _rerank(unit: np.ndarray, rows: np.ndarray, candidate: np.ndarray, k: int) -> np.ndarray:
    """The k nearest of a few rows among the union of their candidate columns (ascending, so ties still go to
    the lower index), on float64 similarities from the same matrix product as :func:`_nearest_exact`. A column
    that is another row's candidate but not this row's is strictly farther than this row's k-th nearest."""
    columns = np.flatnonzero(candidate.any(axis=0))
    similarity = unit[rows] @ unit[columns].T
    own = np.searchsorted(columns, rows)
    found = own < len(columns)
    found[found] = columns[own[found]] == rows[found]
    similarity[np.flatnonzero(found), own[found]] = -np.inf
    return columns[_nearest(similarity, k)]


def _query_rows(n_samples: int, max_queries: int | None, seed: int) -> np.ndarray:
    """All rows, or a seeded uniform sample of max_queries of them in ascending order."""
    max_queries = as_positive_int(max_queries, "max_queries", optional=True)
    if max_queries is None or max_queries >= n_samples:
        return np.arange(n_samples)
    return np.sort(np.random.default_rng(seed).choice(n_samples, size=max_queries, replace=False))


def _nearest(similarity: np.ndarray, k: int) -> np.ndarray:
    """Indices (B, k) of the k most similar columns per row, nearest first, ties to the lower index."""
    kth = -np.partition(-similarity, k - 1, axis=1)[:, k - 1:k]
    above = similarity > kth
    tied = similarity == kth
    still_needed = k - above.sum(axis=1, keepdims=True)
    chosen = above | (tied & (np.cumsum(tied, axis=1) <= still_needed))
    candidates = np.nonzero(chosen)[1].reshape(len(similarity), k)  # ascending index within each row
    order = np.argsort(-np.take_along_axis(similarity, candidates, axis=1), axis=1, kind="stable")
    return np.take_along_axis(candidates, order, axis=1)


def _vote(neighbour_labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Majority label per row of (B, k) labels ordered nearest first; ties go to the nearest tied class."""
    rows = np.arange(len(neighbour_labels))[:, None]
    counts = np.zeros((len(neighbour_labels), n_classes), dtype=np.int64)
    np.add.at(counts, (np.broadcast_to(rows, neighbour_labels.shape), neighbour_labels), 1)
    votes_of_each = counts[rows, neighbour_labels]
    first_winner = np.argmax(votes_of_each == votes_of_each.max(axis=1, keepdims=True), axis=1)
    return neighbour_labels[rows[:, 0], first_winner]
