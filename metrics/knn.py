"""Leave-one-out k-nearest-neighbour accuracy on cosine similarity.

For each sample i, its k most cosine-similar other samples (itself excluded) vote with their labels; the
score is the fraction of samples whose vote gives their own label:

    kNN = (1/N) Σ_i [ vote_k(i) = y_i ],   in [0, 1].

Deterministic tie rules: neighbours with equal similarity are taken in order of sample index (the lower
index is nearer), and when several classes get the most votes, the class of the nearest neighbour among
them wins. Both rules ignore label values, so the score does not change when the classes are renamed.

The kNN baseline in the PARC authors' code (Bolya et al., NeurIPS 2021) uses Euclidean distance, k=1 and
reports a percentage; here the similarity is cosine, k defaults to 10 and the score is a fraction.
Similarities are computed block by block from the normalised Gram matrix (no N x N matrix is held: memory is
two float64 copies of the features plus a block of 4M similarities). The cost is N^2 D multiply-adds (1.2e13
at N=75,750, D=2048: 38 times ``max_queries=2000``, ``bench/bench_grid.py``). ``max_queries=m`` (< N)
estimates the same number from m query samples drawn uniformly without replacement (seeded by ``seed``), each
voted on by its k nearest among all N samples as above: an unbiased estimate of the exact score, standard
error at most 0.5 / sqrt(m) (0.005 at m=10,000), at a cost of m N D. An all-zero feature row (dead ReLU units
on a tiny input, say) has cosine similarity 0 with every sample, as in ``sklearn.preprocessing.normalize``,
instead of making the whole score undefined.
"""
from __future__ import annotations

import numpy as np

from metrics._checks import as_features, as_labels, as_positive_int

DEFAULT_K = 10
_BLOCK_ELEMENTS = 1 << 22


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
    unit = x / np.where(norms == 0, 1.0, norms)[:, None]   # an all-zero row stays zero: similarity 0 to all
    queries = _query_rows(n_samples, max_queries, seed)
    block = max(1, _BLOCK_ELEMENTS // n_samples)
    correct = 0
    for start in range(0, len(queries), block):
        rows = queries[start:start + block]
        similarity = unit[rows] @ unit.T
        similarity[np.arange(len(rows)), rows] = -np.inf
        neighbours = _nearest(similarity, int(k))
        correct += int(np.sum(_vote(targets[neighbours], n_classes) == targets[rows]))
    return correct / len(queries)


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
