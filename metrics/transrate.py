"""TransRate: the coding rate of the features minus the mean coding rate of each class.

Huang, Huang, Chen, Ma, Wen, "Frustratingly Easy Transferability Estimation", ICML 2022. With Z the features
centred by their overall mean (no per-class centring, no scaling of the dimensions) and Z_c the rows of
class c (n_c of them):

    R(Z, eps) = 1/2 log det(I_D + ZᵀZ / (n eps)),      n = rows of Z
    TransRate = R(Z, eps) - (1/C) sum_c R(Z_c, eps).

This is the normalisation of the widely used implementation (the code printed in the paper's appendix and
copied by the SFDA and EMMS repositories): 1/(n eps), where the paper's formula reads d/(n eps^2), so this
``eps`` is the formula's eps^2 / D; the default 1e-4 is that code's. The class term is the plain average over
classes, as in that code, where the paper weights R(Z_c) by n_c / n: the two agree on balanced classes.

Fast and exact: det(I_D + a ZᵀZ) = det(I_n + a Z Zᵀ), so each log-determinant is taken on the smaller of the
n x n and D x D Grams, by Cholesky (all eigenvalues are >= 1). A class with n_c < D costs n_c^2 D, not D^3.

``precision="float32"`` computes every Gram in float32 block by block (sgemm/ssyrk, blocks summed in float64);
the decomposition stays float64. Measured difference from the float64 default (``bench/bench_grid.py
--targets``): relative at most 1e-9 on class-structured synthetic features (N 2000-20000, D 512-2048), 4e-5 on
rank-deficient ones (64 of 320 columns sums of others: the float32 rounding of the null directions enters the
log-determinants); the default stays float64.
"""
from __future__ import annotations

import numpy as np

from metrics._gram import centred_cross, check_precision
from metrics._spectral import logdet_identity_plus
from metrics._stats import CellStatistics


def transrate(features, labels, *, eps: float = 1e-4, device=None, precision: str = "float64") -> float:
    """TransRate R(Z) - mean_c R(Z_c) (higher = more transferable); ``device`` runs the Grams in torch,
    ``precision="float32"`` computes them in float32 (see the module docstring)."""
    check_precision(precision)
    return _score_from(CellStatistics(features, labels), eps=eps, device=device, precision=precision)


def _score_from(stats: CellStatistics, *, eps: float = 1e-4, device=None, precision: str = "float64") -> float:
    """:func:`transrate` from a cell's shared statistics: the whole coding rate from the shared centred Gram."""
    check_precision(precision)
    z = stats.centred   # the features centred by their overall mean (shared: read, never written)
    classes, n_classes = stats.classes, stats.n_classes
    if not (np.isfinite(eps) and eps > 0):
        raise ValueError(f"eps must be a positive number, got {eps}")
    order = np.argsort(classes, kind="stable")
    bounds = np.cumsum(np.bincount(classes, minlength=n_classes))[:-1]
    class_rates = [coding_rate(block, eps, device, precision) for block in np.split(z[order], bounds)]
    whole = 0.5 * logdet_identity_plus(stats.gram(stats.small_side(), device, precision), 1.0 / (len(z) * eps),
                                       device)
    return whole - float(np.mean(class_rates))


def coding_rate(z: np.ndarray, eps: float, device=None, precision: str = "float64") -> float:
    """R(Z, eps) = 1/2 log det(I + ZᵀZ / (n eps)) of the rows of z as given, on the smaller Gram."""
    n, d = z.shape
    gram = centred_cross(z if n > d else z.T, device=device, dtype=precision)
    return 0.5 * logdet_identity_plus(gram, 1.0 / (n * eps), device)
