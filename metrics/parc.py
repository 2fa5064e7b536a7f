"""PARC: Pairwise Annotation Representation Comparison (Bolya, Mittapalli, Hoffman; NeurIPS 2021,
"Scalable Diverse Model Selection for Accessible Transfer Learning").

1. Reduce the features to ``pca_dim`` dimensions by PCA (as published: sklearn randomized PCA with
   random_state=1919 and iterated_power=1, capped at N components), then standardise each dimension.
2. Dissimilarity matrices over samples: RDM_f = 1 - corrcoef(features) and RDM_y = 1 - corrcoef(one-hot
   labels), i.e. 1 - Pearson correlation between the rows of each.
3. PARC = 100 × Spearman correlation between the strict upper triangles of RDM_f and RDM_y
   (the factor 100 is the published convention; PARC lies in [-100, 100]).

RDM_y takes only two values (0 for a same-class pair, 1 + 1/(C-1) otherwise), so the Spearman correlation
equals the Pearson correlation between the ranks of RDM_f and the indicator "different class"; it is
computed that way, without building RDM_y, and without holding more than a block of rows of RDM_f.

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
from scipy.stats import rankdata
from sklearn.decomposition import PCA

from metrics._checks import as_features, as_labels, check_samples_per_class

PUBLISHED_PCA_SEED = 1919


def parc(features, labels, *, pca_dim: int | None = 32, max_samples: int = 15000, seed: int = 0) -> float:
    """PARC of features (N, D) for labels (N,), in [-100, 100]. Higher is better."""
    x = as_features(features)
    targets, _ = as_labels(labels, x.shape[0])
    check_samples_per_class(targets, 2, "PARC")
    if pca_dim is not None and (isinstance(pca_dim, bool) or not isinstance(pca_dim, (int, np.integer))
                                or pca_dim < 1):
        raise ValueError(f"pca_dim must be a positive integer or None, got {pca_dim!r}")
    keep = _stratified_subsample(targets, max_samples, seed)
    x, targets = x[keep], targets[keep]
    if pca_dim is not None and pca_dim < x.shape[1]:
        x = PCA(n_components=min(int(pca_dim), x.shape[0]), svd_solver="randomized",
                random_state=PUBLISHED_PCA_SEED, iterated_power=1).fit_transform(x)
    std = x.std(axis=0)
    x = (x - x.mean(axis=0)) / np.where(std > 0, std, 1.0)
    dissimilarity, different_class = _upper_pairs(x, targets)
    ranks = rankdata(dissimilarity)
    del dissimilarity
    # Pearson correlation with a 0/1 variable (point-biserial), without a float copy of the indicator
    share = different_class.mean()
    mean_different = np.sum(ranks, where=different_class) / different_class.sum()
    mean_same = np.sum(ranks, where=~different_class) / (~different_class).sum()
    return float(100.0 * (mean_different - mean_same) * np.sqrt(share * (1 - share)) / ranks.std())


def _upper_pairs(x: np.ndarray, targets: np.ndarray, block_elements: int = 1 << 22) -> tuple[np.ndarray, np.ndarray]:
    """Strict upper triangle, row by row, of 1 - corrcoef(rows of x) and of [y_i != y_j], in row blocks."""
    centred = x - x.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(centred, axis=1)
    if np.any(norms == 0):
        raise ValueError(f"PARC: {int(np.sum(norms == 0))} sample(s) have identical values in every (reduced, "
                         f"standardised) dimension, so their correlation is undefined; use more dimensions")
    unit = centred / norms[:, None]
    n_samples = len(unit)
    dissimilarity = np.empty(n_samples * (n_samples - 1) // 2)
    different_class = np.empty(len(dissimilarity), dtype=bool)
    columns = np.arange(n_samples)
    block = max(1, block_elements // n_samples)
    position = 0
    for start in range(0, n_samples, block):
        rows = columns[start:start + block]
        above = columns[None, :] > rows[:, None]
        values = (1.0 - np.clip(unit[rows] @ unit.T, -1.0, 1.0))[above]
        dissimilarity[position:position + len(values)] = values
        different_class[position:position + len(values)] = (targets[rows][:, None] != targets[None, :])[above]
        position += len(values)
    return dissimilarity, different_class


def _stratified_subsample(targets: np.ndarray, max_samples: int, seed: int) -> np.ndarray:
    """Indices of all samples, or of a seeded per-class fraction max_samples/N of them, in original order."""
    if len(targets) <= max_samples:
        return np.arange(len(targets))
    rng = np.random.default_rng(seed)
    fraction = max_samples / len(targets)
    chosen = [rng.choice(members, size=max(2, int(fraction * len(members))), replace=False)
              for members in (np.flatnonzero(targets == c) for c in range(targets.max() + 1))]
    return np.sort(np.concatenate(chosen))
