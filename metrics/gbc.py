"""GBC: Gaussian Bhattacharyya Coefficient (Pándy, Agostinelli, Uijlings, Ferrari, Mensink; CVPR 2022,
"Transferability Estimation using Bhattacharyya Class Separability").

Each class c is modelled as a Gaussian N(μ_c, Σ_c) with μ_c the class mean and Σ_c = diag(v_c), v_c the
per-dimension population variance floored at 1e-4 ("diagonal"), or Σ_c = s_c I with s_c the mean of the
floored v_c ("spherical", the default of the published code). For each pair of classes

    Σ̄     = (Σ_i + Σ_j) / 2
    D_B   = 1/8 (μ_i - μ_j)ᵀ Σ̄⁻¹ (μ_i - μ_j) + 1/2 log( det Σ̄ / sqrt(det Σ_i det Σ_j) )
    BC    = exp(-D_B)
    GBC   = - Σ_{i ≠ j} BC_ij          (over ordered pairs)

GBC lies in [-C(C-1), 0]; it is ~0 when the classes are well separated and -C(C-1) when they coincide.
``pca_dim`` first projects the features on their top ``pca_dim`` principal components, at most min(N, D)
(exact PCA; the published experiments use 64, which is what the evaluate stage passes); ``None`` keeps
the features as they are. Every class needs at least 2 samples (a variance).

Difference from published code (google-research stable_transfer, gbc.py): for spherical Gaussians in D
dimensions det(s I) = s^D, so the log-determinant term carries a factor D; the published code sums the log
of the scalar variance once, i.e. drops that factor. Here the paper's formula is used; pass
``published_spherical=True`` to reproduce the published numbers. Both agree when every class has the same
mean variance, and for ``gaussian="diagonal"``.
"""
from __future__ import annotations

import numpy as np

from metrics._checks import as_features, as_positive_int, check_samples_per_class
from metrics._gram import class_means_and_variances
from metrics._pca import pca_from_spectrum
from metrics._stats import CellStatistics

VARIANCE_FLOOR = 1e-4
_PAIR_BLOCK_ELEMENTS = 1 << 22  # class pairs x dimensions held at once


def gbc(features, labels, *, gaussian: str = "spherical", pca_dim: int | None = None,
        published_spherical: bool = False) -> float:
    """Gaussian Bhattacharyya Coefficient of features (N, D) for labels (N,). Higher is better."""
    return _score_from(CellStatistics(features, labels), gaussian=gaussian, pca_dim=pca_dim,
                       published_spherical=published_spherical)


def _score_from(stats: CellStatistics, *, gaussian: str = "spherical", pca_dim: int | None = None,
                published_spherical: bool = False) -> float:
    """:func:`gbc` from a cell's shared statistics (the PCA from the shared centred Gram's eigh)."""
    if gaussian not in ("spherical", "diagonal"):
        raise ValueError(f"gaussian must be 'spherical' or 'diagonal', got {gaussian!r}")
    targets, n_classes = stats.classes, stats.n_classes
    check_samples_per_class(targets, 2, "GBC")
    pca_dim = as_positive_int(pca_dim, "pca_dim", optional=True)
    if pca_dim is not None:
        x, _ = pca_from_spectrum(stats.centred, stats.pca_spectrum(), n_components=pca_dim)
    else:
        x = as_features(stats.source)
    means, variances = class_means_and_variances(x, targets, n_classes)
    variances = np.maximum(variances, VARIANCE_FLOOR)
    log_weight = 1.0
    if gaussian == "spherical":
        variances = variances.mean(axis=1, keepdims=True)
        log_weight = 1.0 if published_spherical else float(x.shape[1])
    coefficients = np.exp(-bhattacharyya_distances(means, variances, log_weight))
    np.fill_diagonal(coefficients, 0.0)
    return float(-coefficients.sum())


def bhattacharyya_distances(means: np.ndarray, variances: np.ndarray, log_weight: float) -> np.ndarray:
    """(C, C) Bhattacharyya distances between Gaussians with diagonal covariances.

    ``variances`` is (C, D) for diagonal Gaussians or (C, 1) for spherical ones (the same variance in all
    D dimensions); ``log_weight`` multiplies the log-determinant term (D for spherical Gaussians).
    """
    n_classes, dim = means.shape
    distances = np.empty((n_classes, n_classes))
    block = max(1, _PAIR_BLOCK_ELEMENTS // (n_classes * dim))
    log_var = np.log(variances)
    for start in range(0, n_classes, block):
        stop = min(start + block, n_classes)
        average = (variances[start:stop, None, :] + variances[None, :, :]) / 2
        squared = (means[start:stop, None, :] - means[None, :, :]) ** 2
        mahalanobis = (squared / average).sum(axis=2)
        log_ratio = (np.log(average) - 0.5 * log_var[start:stop, None, :] - 0.5 * log_var[None, :, :]).sum(axis=2)
        distances[start:stop] = mahalanobis / 8 + 0.5 * log_weight * log_ratio
    return distances
