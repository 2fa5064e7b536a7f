"""PARC: Pairwise Annotation Representation Comparison (Bolya, Mittapalli, Hoffman; NeurIPS 2021,
"Scalable Diverse Model Selection for Accessible Transfer Learning").

1. Reduce the features to ``pca_dim`` dimensions by PCA (as published: sklearn randomized PCA with
   random_state=1919 and iterated_power=1, capped at N components), then standardise each dimension (as
   published: sklearn's StandardScaler, which centres but does not scale a dimension that is constant up to
   rounding, such as a dead feature or the N-th principal component of N samples). Components beyond the rank
   of the features (variance below ``rank_mask``'s tolerance: rounding noise, e.g. 32 components of features
   of rank 15, which StandardScaler would scale up to unit variance) are set to exactly 0 first; the published
   code keeps them, and on the reduced demo's 60 samples of rank 15 a 1e-7 change of the features then moved
   PARC from 1.0 to 4.2.
2. Dissimilarity matrices over samples: RDM_f = 1 - corrcoef(features) and RDM_y = 1 - corrcoef(one-hot
   labels), i.e. 1 - Pearson correlation between the rows of each.
3. PARC = 100 × Spearman correlation between the strict upper triangles of RDM_f and RDM_y
   (the factor 100 is the published convention; PARC lies in [-100, 100]).

RDM_y takes only two values (0 for a same-class pair, 1 + 1/(C-1) otherwise), so the Spearman correlation
equals the Pearson correlation between the ranks of RDM_f and the indicator "different class"
(point-biserial): with M pairs, p the share of different-class pairs and R_s the sum of the (average, for
ties) ranks of the same-class pairs,

    PARC = 100 (mean rank of different - mean rank of same) sqrt(p (1 - p)) / std(ranks),
    std(ranks)^2 = (M^2 - 1)/12 - sum over tie groups of (t^3 - t) / (12 M).

It is computed that way: the RDM_f upper triangle is filled block by block (no N x N matrix), sorted in
place, and the same-class values are ranked in it by binary search; no rank array, no RDM_y and no
class-indicator array of M entries are built. Memory: the M float64 values (8 M bytes, 0.9 GB at the
15000-sample cap) plus one M-entry boolean for ties; time: one sort of M values.

Differences from published code:
- The published code computes RDM_y in floating point, where same-class entries of 1 - corrcoef come out
  as 0 or as ±1e-16 rounding noise, and Spearman then ranks that noise; here RDM_y is exactly two-valued.
  Both agree whenever the published RDM_y happens to come out exactly two-valued.
- ``pca_dim=None``, or a ``pca_dim`` not below the feature dimension, keeps the features unreduced (the
  published code would fail or rotate them).
- More than ``max_samples`` samples (15000, the published threshold) are subsampled per class, seeded by
  ``seed`` (a fraction max_samples/N of each class, rounded down); the published helper draws unseeded
  samples and then scores all of them anyway, which needs N² memory.
"""
from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler

from metrics._checks import as_features, as_labels, as_positive_int, check_samples_per_class
from metrics._sampling import stratified_subsample
from metrics._spectral import rank_mask

PUBLISHED_PCA_SEED = 1919


def parc(features, labels, *, pca_dim: int | None = 32, max_samples: int = 15000, seed: int = 0) -> float:
    """PARC of features (N, D) for labels (N,), in [-100, 100]. Higher is better."""
    x = as_features(features)
    targets, _ = as_labels(labels, x.shape[0])
    check_samples_per_class(targets, 2, "PARC")
    pca_dim = as_positive_int(pca_dim, "pca_dim", optional=True)
    keep = stratified_subsample(targets, max_samples, seed)
    x, targets = x[keep], targets[keep]
    if pca_dim is not None and pca_dim < x.shape[1]:
        pca = PCA(n_components=min(pca_dim, x.shape[0]), svd_solver="randomized",
                  random_state=PUBLISHED_PCA_SEED, iterated_power=1)
        x = pca.fit_transform(x)
        x[:, ~rank_mask(pca.explained_variance_, max(pca.n_samples_, pca.n_features_in_))] = 0.0
    x = StandardScaler().fit_transform(x)   # as published: a column constant up to rounding is not scaled up
    dissimilarity, same_class = _upper_pairs(x, targets)
    return float(100.0 * _point_biserial_of_ranks(dissimilarity, same_class))


def _upper_pairs(x: np.ndarray, targets: np.ndarray, block_elements: int = 1 << 22) -> tuple[np.ndarray, np.ndarray]:
    """The strict upper triangle of 1 - corrcoef(rows of x), row by row, and its same-class entries apart."""
    centred = x - x.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(centred, axis=1)
    if np.any(norms == 0):
        raise ValueError(f"PARC: {int(np.sum(norms == 0))} sample(s) have identical values in every (reduced, "
                         f"standardised) dimension, so their correlation is undefined; use more dimensions")
    unit = centred / norms[:, None]
    n_samples = len(unit)
    dissimilarity = np.empty(n_samples * (n_samples - 1) // 2)
    same_class = []
    columns = np.arange(n_samples)
    block = max(1, block_elements // n_samples)
    position = 0
    for start in range(0, n_samples, block):
        rows = columns[start:start + block]
        later = columns[start:]   # only these columns hold pairs above the diagonal for these rows
        above = later[None, :] > rows[:, None]
        values = 1.0 - np.clip(unit[rows] @ unit[start:].T, -1.0, 1.0)
        count = int(above.sum())
        dissimilarity[position:position + count] = values[above]
        position += count
        same_class.append(values[above & (targets[rows][:, None] == targets[start:][None, :])])
    return dissimilarity, np.concatenate(same_class)


def _point_biserial_of_ranks(values: np.ndarray, same_class: np.ndarray) -> float:
    """Pearson correlation between the average ranks of ``values`` (sorted here, in place) and the indicator
    "not one of the ``same_class`` values" (a sub-multiset of ``values``)."""
    n_pairs, n_same = len(values), len(same_class)
    if n_same in (0, n_pairs):
        raise ValueError("PARC needs both same-class and different-class pairs: use at least 2 classes with "
                         "at least 2 samples each")
    values.sort()
    same_class = np.sort(same_class)
    below = np.searchsorted(values, same_class, side="left")
    tied = np.searchsorted(values, same_class, side="right") - below
    same_rank_sum = float(np.sum(below + (tied + 1) / 2.0))
    mean_same = same_rank_sum / n_same
    mean_different = (n_pairs * (n_pairs + 1) / 2.0 - same_rank_sum) / (n_pairs - n_same)
    rank_variance = (n_pairs ** 2 - 1) / 12.0 - _tie_correction(values) / (12.0 * n_pairs)
    share = (n_pairs - n_same) / n_pairs
    return (mean_different - mean_same) * np.sqrt(share * (1 - share)) / np.sqrt(rank_variance)


def _tie_correction(sorted_values: np.ndarray) -> float:
    """sum over groups of t equal values of t^3 - t."""
    equal_next = sorted_values[1:] == sorted_values[:-1]
    if not equal_next.any():
        return 0.0
    edges = np.flatnonzero(np.diff(np.concatenate(([False], equal_next, [False])).astype(np.int8)))
    sizes = (edges[1::2] - edges[::2] + 1).astype(np.float64)   # each run of k equalities is a group of k + 1
    return float(np.sum(sizes ** 3 - sizes))

