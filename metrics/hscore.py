"""H-score and its Ledoit-Wolf regularised version.

H-score: Bao, Li, Huang, Zheng, Wang, Zhang, "An information-theoretic approach to transferability in task
transfer learning", ICIP 2019:

    H(f) = tr( cov(f)^+ cov(E[f | y]) ),

f the mean-centred features, E[f | y] each sample's class mean, both covariances with the same normalisation
(it cancels). The pseudo-inverse drops eigenvalues of cov(f) at or below rcond * the largest, with
rcond = max(N, D) * float64 eps (numpy's ``matrix_rank`` default). The published code uses
``np.linalg.pinv(cov, rcond=1e-15)``: identical on well-conditioned features, but on rank-deficient ones (N <= D,
dead units, duplicated dimensions) 1e-15 keeps rounding-noise eigenvalues and their huge inverses.
When N <= D the centred features generically span all N - 1 sample directions and H = C - 1 whatever the
features are: the H-score only ranks models when N > D (the regularised version below does not saturate).

Regularised H-score: Ibrahim, Ponomareva, Mazumder, "Newer is not always better: rethinking transferability
metrics, their peculiarities, stability and performance", ECML-PKDD 2022:

    H_alpha(f) = (1 - alpha) tr( cov_alpha(f)^+ cov(E[f | y]) ),
    cov_alpha = (1 - alpha) S + alpha (tr S / D) I,

the pseudo-inverse with the same rcond (cov_alpha is invertible whenever alpha > 0), S the
maximum-likelihood covariance (1/N) and alpha the Ledoit-Wolf shrinkage, from its closed form (the
formula of ``sklearn.covariance.ledoit_wolf_shrinkage``, computed from the Gram spectrum instead of a D x D
blocked product); cov(E[f | y]) with 1/(N - 1), as in the published code (``np.cov``).

Both are computed without forming cov(E[f | y]): with s_c the sum of the centred features of class c (n_c
samples), tr(M^+ cov(E[f | y])) = 1/(N - 1) sum_c s_cᵀ M^+ s_c / n_c. M is diagonalised once: the D x D scatter
when N > D, else the N x N Gram of the centred features (every s_c lies in the span of the samples).

``precision="float32"`` computes the scatter (or the N x N Gram) in float32 block by block (sgemm/ssyrk,
blocks summed in float64); the decomposition stays float64. Measured difference from the float64 default
(``bench/bench_grid.py --targets``): relative at most 1e-7 for both scores on class-structured synthetic
features (N 2000-20000, D 512-2048, rank-deficient ones included); the default stays float64.
"""
from __future__ import annotations

import numpy as np

from metrics import _gram
from metrics._gram import check_precision
from metrics._spectral import rank_mask
from metrics._stats import CellStatistics


def hscore(features, labels, *, device=None, precision: str = "float64") -> float:
    """H-score tr(cov(f)^+ cov(E[f|y])) (higher = more transferable); ``device`` runs the Gram in torch,
    ``precision="float32"`` computes it in float32 (see the module docstring)."""
    check_precision(precision)
    return _hscore_from(CellStatistics(features, labels), device=device, precision=precision)


def _hscore_from(stats: CellStatistics, *, device=None, precision: str = "float64") -> float:
    """:func:`hscore` from a cell's shared statistics."""
    spectrum = _ClassScatterSpectrum(stats, device, check_precision(precision))
    keep = rank_mask(spectrum.scatter_values, spectrum.size)
    # cov = scatter / (N - 1), so (N - 1) cancels against the 1/(N - 1) of cov(E[f | y]).
    return float((spectrum.between[keep] / spectrum.scatter_values[keep]).sum())


def reg_hscore(features, labels, *, device=None, precision: str = "float64") -> float:
    """H-score with the Ledoit-Wolf shrinkage covariance in place of cov(f) (higher = more transferable).

    The score does not change with the features' scale; the scatter's eigenvalues, the between-class parts and
    the squared row norms are divided by the square of the features' largest magnitude first, since the
    shrinkage's fourth moments of raw features overflow float64 from magnitudes of about 1e77."""
    check_precision(precision)
    return _reg_hscore_from(CellStatistics(features, labels), device=device, precision=precision)


_PEAK_RANGE = (1e-100, 1e100)   # beyond it the Gram of the raw features under- or overflows: scale them first


def _reg_hscore_from(stats: CellStatistics, *, device=None, precision: str = "float64") -> float:
    """:func:`reg_hscore` from a cell's shared statistics (the unscaled spectrum, divided by peak^2)."""
    check_precision(precision)
    peak = stats.peak
    if peak > 0 and not _PEAK_RANGE[0] <= peak <= _PEAK_RANGE[1]:
        from metrics._checks import as_features

        stats = CellStatistics(as_features(stats.source) / peak, stats.labels)
        peak = 1.0
    spectrum = _ClassScatterSpectrum(stats, device, precision)
    square = peak * peak if peak > 0 else 1.0
    n, d = spectrum.n, spectrum.d
    cov_values = np.maximum(spectrum.scatter_values / square, 0.0) / n
    shrinkage = _ledoit_wolf_shrinkage(cov_values, stats.row_norms_sq / square, n, d)
    # Directions outside the span of the samples have eigenvalue shrinkage * mu but no between-class part.
    shrunk = (1.0 - shrinkage) * cov_values + shrinkage * cov_values.sum() / d
    keep = rank_mask(shrunk, spectrum.size)
    return float((1.0 - shrinkage) * (spectrum.between[keep] / square / shrunk[keep]).sum() / (n - 1))


def _ledoit_wolf_shrinkage(cov_values: np.ndarray, row_norms_sq: np.ndarray, n: int, d: int) -> float:
    """Ledoit-Wolf shrinkage of centred samples, from the eigenvalues of S and the squared row norms."""
    mu = cov_values.sum() / d
    frobenius_sq = (cov_values ** 2).sum()  # ||S||_F^2
    fourth_moment = (row_norms_sq ** 2).sum() / n  # (1/N) sum_n ||x_n||^4
    beta = (fourth_moment - frobenius_sq) / (d * n)
    delta = (frobenius_sq - d * mu ** 2) / d  # ||S - mu I||_F^2 / D
    beta = min(beta, delta)  # shrink no more than all the way to mu I
    return 0.0 if beta <= 0 else beta / delta


class _ClassScatterSpectrum:
    """The eigenvalues of the centred scatter XcᵀXc restricted to the span of the samples, and for each
    eigenvector j the between-class part ``between[j] = sum_c (v_jᵀ s_c)^2 / n_c``, from the cell's shared
    centred copy, Gram and eigendecomposition (:class:`metrics._stats.CellStatistics`)."""

    def __init__(self, stats: CellStatistics, device, precision):
        self.n, self.d = stats.shape
        self.size = max(self.n, self.d)
        counts = stats.counts
        side = stats.small_side()
        self.scatter_values, vectors = stats.spectrum(side, device, precision)
        if side == "features":
            projected = stats.centred_class_sums() @ vectors  # s_cᵀ v_j
        else:
            # With Xc Xcᵀ = U W Uᵀ, the scatter's eigenvectors are v_j = Xcᵀ u_j / sqrt(w_j), so
            # v_jᵀ s_c = v_jᵀ Xcᵀ y_c = sqrt(w_j) u_jᵀ y_c.
            projected = _gram.class_sums(vectors, stats.classes, stats.n_classes) * \
                np.sqrt(np.maximum(self.scatter_values, 0.0))
        self.between = (projected ** 2 / counts[:, None]).sum(axis=0)
