"""SFDA's regularised LDA posterior (step 1 of :mod:`metrics.sfda`, where the formula and the paper are),
shared by SFDA and ETran's classification score."""
from __future__ import annotations

import numpy as np
from scipy import linalg
from scipy.special import softmax

from metrics._gram import class_means, within_class_cross

SHRINKAGE_FLOOR = 1e-10
ADAPTIVE_SHRINKAGE_RATE = 5   # lambda = max(exp(-5 * lambda_max(S_w)), SHRINKAGE_FLOOR)
GRAM_SCATTER_MAX_RATIO = 1e4   # total / within-class scatter of a dimension up to which S_w comes from the Gram


def lda_posterior(x: np.ndarray, targets: np.ndarray, n_classes: int,
                  shrinkage: float | None = None) -> tuple[np.ndarray, float]:
    """Class posteriors (N, C) of the regularised LDA of step 1, and the shrinkage λ used.

    ``shrinkage=None`` chooses λ adaptively (SFDA's rule).
    """
    means = class_means(x, targets, n_classes)
    return _posterior(x, targets, means, within_class_cross(x, targets, means), shrinkage)


def cell_posterior(stats) -> tuple[np.ndarray, float]:
    """:func:`lda_posterior` (adaptive λ) of a cell's shared :class:`~metrics._stats.CellStatistics`: on the
    centred features Xc (the posteriors do not depend on the origin: a shift adds the same term to every class's
    logit), class means μ_c of Xc from the shared class sums and, when N > D, the within-class scatter from the
    shared centred Gram,
        N S_w = XcᵀXc - Σ_c N_c μ_c μ_cᵀ               (Xc has mean 0),
    unless that subtraction cancels: its rounding error in a dimension is ~1e-15 times the ratio of the total to
    the within-class scatter there, so above ``GRAM_SCATTER_MAX_RATIO`` (and when N <= D) it is the direct
    product Σ_i (Xc_i - μ_{y_i})ᵀ (Xc_i - μ_{y_i})."""
    x, targets, counts = stats.centred, stats.classes, stats.counts
    means = stats.centred_class_sums() / counts[:, None]
    if stats.small_side() == "features":
        total = stats.gram("features")
        scatter = total - (means.T * counts) @ means
        if np.all(np.diagonal(total) <= GRAM_SCATTER_MAX_RATIO * np.diagonal(scatter)):
            return _posterior(x, targets, means, scatter, None)
    return _posterior(x, targets, means, within_class_cross(x, targets, means), None)


def _posterior(x: np.ndarray, targets: np.ndarray, means: np.ndarray, scatter: np.ndarray,
               shrinkage: float | None) -> tuple[np.ndarray, float]:
    """Step 1's posteriors from the class means (C, D) and the within-class scatter times N (D, D)."""
    n_samples = x.shape[0]
    priors = np.bincount(targets, minlength=len(means)) / n_samples
    within = scatter / n_samples  # = Σ_c π_c Cov_c (population covariances)
    if shrinkage is None:
        rate = ADAPTIVE_SHRINKAGE_RATE * largest_eigenvalue_estimate(within)
        shrinkage = max(float(np.exp(-rate)), SHRINKAGE_FLOOR)
    dim = within.shape[0]
    shrunk = (1 - shrinkage) * within
    shrunk.flat[:: dim + 1] += shrinkage * np.trace(within) / dim
    try:
        coef = linalg.cho_solve(linalg.cho_factor(shrunk), means.T).T
    except linalg.LinAlgError:
        raise ValueError("the shrunk within-class scatter is not positive definite (features are "
                         "degenerate, e.g. constant or duplicated dimensions); reduce them with PCA first") from None
    intercept = -0.5 * np.einsum("cd,cd->c", means, coef) + np.log(priors)
    return softmax(x @ coef.T + intercept, axis=1), shrinkage


def largest_eigenvalue_estimate(matrix: np.ndarray, rounds: int = 3) -> float:
    """SFDA's power-iteration estimate of the largest eigenvalue (see the :mod:`metrics.sfda` docstring)."""
    x = matrix.sum(axis=1)
    if not np.any(x):
        x = np.ones(matrix.shape[0])
    y = x
    for _ in range(rounds):
        y = _normalised(matrix @ x)
        x = _normalised(matrix @ y)
    return float(x @ matrix @ y)


def _normalised(vector: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(vector)
    return vector / norm if norm > 0 else vector
