"""LogME: the maximised log marginal evidence of Bayesian linear regression from features to each target.

You, Liu, Wang, Long, "LogME: Practical Assessment of Pre-trained Models for Transfer Learning", ICML 2021,
with the fixed-point maximisation of the JMLR 2022 version ("Ranking and Tuning Pre-trained Models: A New
Paradigm for Exploiting Model Hubs", You et al.).

For one target y (N,), features F (N, D), weights w ~ N(0, alpha^-1 I_D), noise N(0, beta^-1 I_N):

    log p(y | F, alpha, beta) = D/2 log alpha + N/2 log beta - N/2 log 2pi
                                - beta/2 ||y - F m||^2 - alpha/2 ||m||^2 - 1/2 log|A|,
    A = alpha I_D + beta FᵀF,   m = beta A^-1 Fᵀ y.

With sigma_i the k non-zero eigenvalues of FᵀF (k = rank F), log|A| = sum_i log(alpha + beta sigma_i)
+ (D - k) log alpha. The score is the mean over targets of max_{alpha, beta} log p / N. Targets: the C one-hot
columns of the labels (classification) or the K columns of real-valued labels (regression).

Maximisation: MacKay's fixed point, gamma = sum_i sigma_i / (sigma_i + t), alpha <- gamma / ||m||^2,
beta <- (N - gamma) / ||y - F m||^2, depends on alpha and beta only through t = alpha / beta, so it is run on
t, for all targets at once, until t changes by at most ``tol`` (relative). Where the evidence is flat MacKay's
update crawls (thousands of steps), so each step also tries a Newton step on log t for the same stationarity
condition (closed-form first and second derivatives, step at most a factor e) and keeps whichever of the two
gives the higher evidence. The evidence is taken at the final t with the best beta for it
(beta = N / (||y - F m||^2 + t ||m||^2), the same point at convergence) and compared with the closed-form
limits t -> inf (zero weights) and, when rank F = N, t -> 0 (exact interpolation), which the fixed point
approaches only geometrically.

Deliberate differences from the published code (github.com/thuml/LogME):

- log|A| is exact. The published code sums log(alpha + beta sigma_i) over the min(N, D) singular values only
  (and over those above 1e-10 when N > D), dropping the -(D - k)/2 log alpha of the null space; when N < D
  (or F is rank-deficient) that inflates the score by (D - k)/(2N) log alpha.
- No 1e-5 added to ||m||^2 and ||y - F m||^2 in the updates: being absolute, it moves the answer for features
  of large norm (small ||m||^2) and makes a spurious stationary point when a target is best fitted by zero
  weights. A target that lies exactly in the span of F (when N > rank F) has unbounded evidence; its
  residual is kept at least at float64 resolution (eps ||y||^2), which gives a large finite score.
- The fixed point runs to convergence (``tol``, ``max_iter``), with Newton steps where faster, instead of
  stopping after 11 steps or a 1e-3 relative change; boundary maxima are found exactly.
- All targets share one decomposition (eigh of FᵀF when N > D, of F Fᵀ when N <= D; eigenvalues below
  max(N, D) * eps of the largest count as zero) and iterate together, each stopping when it converges.

- The iteration starts at t = alpha / beta = the mean squared entry of F, which is the published alpha = beta = 1
  for features of unit mean square, and scales with F, so that the search, like the maximum it looks for, does
  not depend on the features' scale. From t = 1, features of 100 samples x 512 ReLU dimensions scaled by 1e7
  gave NaN, and scaled by 1e-9 a score 4e-3 too low (a flat start the stopping rule took for the maximum).

Kept as published: features are used as given (not centred, no bias term).

``precision="float32"`` computes FᵀF (for N > D; F Fᵀ of the N <= D case stays float64) in float32 block by
block (sgemm/ssyrk, blocks summed in float64), as the Gram of the centred features plus N mean meanᵀ, so that
a large mean (LogME does not centre) costs no digits; the decomposition stays float64. Measured difference
from the float64 default (``bench/bench_grid.py --targets``): relative at most 2e-8 on class-structured
synthetic features (N 2000-20000, D 512-2048), ReLU-like ones with a mean 20x their spread included (without
the mean correction: 5e-4); the default stays float64.
"""
from __future__ import annotations

import warnings

import numpy as np

from metrics._checks import as_targets
from metrics._gram import centred_cross, check_precision, class_sums
from metrics._spectral import eigh, rank_mask
from metrics._warnings import MetricWarning
from metrics._stats import CellStatistics


def logme(features, labels, *, regression: bool = False, device=None, tol: float = 1e-6,
          max_iter: int = 2000, precision: str = "float64") -> float:
    """LogME score: mean over targets of the maximised log evidence / N (higher = more transferable).

    features (N, D); labels: integer classes (N,) (one-hot targets), or with ``regression=True`` real values
    (N,) or (N, K). ``device`` ("cuda", a torch device) runs FᵀF and its decomposition in torch float64.
    ``precision="float32"`` computes FᵀF in float32 (see the module docstring).
    """
    check_precision(precision)
    return _score_from(CellStatistics(features, labels), regression=regression, device=device, tol=tol,
                       max_iter=max_iter, precision=precision)


def _score_from(stats: CellStatistics, *, regression: bool = False, device=None, tol: float = 1e-6,
                max_iter: int = 2000, precision: str = "float64") -> float:
    """:func:`logme` from a cell's shared statistics: FᵀF = XcᵀXc + N mean meanᵀ from the shared centred Gram."""
    check_precision(precision)
    n, d = stats.shape
    if not (tol > 0 and max_iter >= 1):
        raise ValueError(f"tol must be > 0 and max_iter >= 1, got tol={tol}, max_iter={max_iter}")
    if regression:
        targets = as_targets(stats.labels, n, "labels")
        if not np.any(targets, axis=0).all():
            raise ValueError("labels (regression targets) hold an all-zero column, whose evidence is unbounded; "
                             "drop it")
        sigma, projected = _spectrum_and_projection(
            stats, lambda: np.asarray(stats.raw, dtype=np.float64).T @ targets, lambda u: u.T @ targets, device,
            precision)
        target_sq = np.einsum("ij,ij->j", targets, targets)
    else:
        classes, n_classes = stats.classes, stats.n_classes
        sigma, projected = _spectrum_and_projection(stats, lambda: stats.raw_class_sums().T,
                                                    lambda u: class_sums(u, classes, n_classes).T, device, precision)
        target_sq = stats.counts.astype(np.float64)
    start = sigma.sum() / (n * d)   # the mean squared entry of F (sum sigma = ||F||_F^2)
    evidences = _maximised_evidence(sigma, projected ** 2, target_sq, n, start, tol, max_iter)
    return float(evidences.mean())


def _spectrum_and_projection(stats: CellStatistics, features_cross, samples_cross, device, precision="float64"):
    """Non-zero eigenvalues sigma (k,) of FᵀF and Uᵀ Y (k, K), U the matching left singular vectors of F.

    ``features_cross()`` returns Fᵀ Y, ``samples_cross(M)`` Mᵀ Y for a matrix M with N rows.
    """
    n, d = stats.shape
    if n > d:
        values, vectors = eigh(_gram_of(stats, device, precision), device)
        keep = rank_mask(values, n)
        sigma, vectors = values[keep], vectors[:, keep]
        # Uᵀ Y = diag(sigma^-1/2) Vᵀ (Fᵀ Y): U = F V sigma^-1/2 is never formed.
        projected = (vectors.T @ features_cross()) / np.sqrt(sigma)[:, None]
    else:
        values, u = eigh(centred_cross(stats.raw.T, device=device), device)   # F Fᵀ: N x N, cheaper than an SVD of F
        keep = rank_mask(values, d)
        sigma, u = values[keep], u[:, keep]
        projected = samples_cross(u)
    if sigma.size == 0:
        raise ValueError("features are all zero: LogME needs features with some non-zero entries")
    return sigma, projected


def _gram_of(stats: CellStatistics, device, precision: str) -> np.ndarray:
    """FᵀF. In float32 it is taken as the (shared) Gram of the centred features plus N mean meanᵀ in float64, so
    that a mean much larger than the spread (uncentred ReLU features) does not eat float32's digits. In float64
    it is the Gram of F itself: the centred one plus N mean meanᵀ differs by rounding, which moves the
    float64-resolution residual of a target fitted exactly (tests/test_logme.py)."""
    if precision == "float64":
        return stats.uncentred_gram(device)
    mean = stats.mean
    return stats.gram("features", device, precision) + stats.shape[0] * np.outer(mean, mean)


def _evidence_at(sigma, x2, residual_null, t, n) -> np.ndarray:
    """Log evidence / N at t = alpha/beta and the best beta for it, beta = N / q with
    q = yᵀ(I + F Fᵀ/t)^-1 y = ||y - F m||^2 + t ||m||^2; t = inf gives the limit of zero weights."""
    ratio = sigma[:, None] / t
    q = (x2 / (1.0 + ratio)).sum(axis=0) + residual_null
    log_det = np.log1p(ratio).sum(axis=0)
    return (0.5 * n * np.log(n / q) - 0.5 * n - 0.5 * log_det - 0.5 * n * np.log(2.0 * np.pi)) / n


def _next_t(sigma, x2, residual_null, t, n, t_low, t_high) -> tuple[np.ndarray, np.ndarray]:
    """MacKay's update of t or a Newton step on log t for the same stationarity condition, whichever gives
    the higher evidence, within [t_low, t_high]; returns the new t and its evidence / N.

    With p_i = sigma_i / (sigma_i + t): gamma = sum p_i, q = sum x_i^2 (1 - p_i) + residual outside the span,
    d(2 N evidence)/d log t = gamma - N q'/q; MacKay's update is t gamma ||y - F m||^2 / (t ||m||^2 (N - gamma)).
    """
    p = sigma[:, None] / (sigma[:, None] + t)
    rest = t / (sigma[:, None] + t)  # 1 - p, without the cancellation of 1.0 - p when t << sigma_i
    spread = p * rest
    gamma = p.sum(axis=0)
    q = (x2 * rest).sum(axis=0) + residual_null
    q_du = (x2 * spread).sum(axis=0)  # = t ||m||^2
    q_du2 = -(x2 * spread * (rest - p)).sum(axis=0)
    residual_sq = q - q_du  # ||y - F m||^2
    with np.errstate(divide="ignore", invalid="ignore"):
        mackay = t * (gamma / q_du) * (residual_sq / (n - gamma))
        slope = gamma - n * q_du / q
        curvature = -spread.sum(axis=0) - n * (q_du2 * q - q_du ** 2) / q ** 2
        newton = np.where(curvature < 0, t * np.exp(np.clip(-slope / curvature, -1.0, 1.0)), mackay)
    mackay, newton = np.clip(mackay, t_low, t_high), np.clip(newton, t_low, t_high)
    # Near t -> 0 at rank F = N, MacKay's update is 0/0 (N - gamma and the residual both vanish): such a step
    # is not a candidate, its evidence -inf.
    evidence_mackay = _finite_or_worst(_evidence_at(sigma, x2, residual_null, mackay, n))
    evidence_newton = _finite_or_worst(_evidence_at(sigma, x2, residual_null, newton, n))
    newton_better = evidence_newton > evidence_mackay
    return np.where(newton_better, newton, mackay), np.where(newton_better, evidence_newton, evidence_mackay)


def _finite_or_worst(evidence: np.ndarray) -> np.ndarray:
    return np.where(np.isfinite(evidence), evidence, -np.inf)


def _interpolation_limit(sigma, x2, n) -> np.ndarray:
    """Log evidence / N as t -> 0 when rank F = N (every target fitted exactly): a finite limit."""
    return (0.5 * n * np.log(n / (x2 / sigma[:, None]).sum(axis=0)) - 0.5 * np.log(sigma).sum()
            - 0.5 * n - 0.5 * n * np.log(2.0 * np.pi)) / n


def _maximised_evidence(sigma, x2, target_sq, n, start, tol, max_iter) -> np.ndarray:
    """Maximum over alpha, beta > 0 of the log evidence / N of every target at once, from t = ``start``.

    x2 (k, K): squared coordinates of the targets on the k left singular vectors of F; the rest of each
    target, ||y||^2 - sum x2, lies outside the span of F and stays in the residual whatever the weights.
    The iteration can creep geometrically towards t -> inf (zero weights are best) or t -> 0 (exact
    interpolation, when rank F = N); both limits have a closed form and are compared with its evidence.
    """
    tiny = np.finfo(np.float64).eps
    if sigma.size == n:  # F Fᵀ is invertible: every target lies in the span of F
        residual_null = np.zeros(x2.shape[1])
    else:  # an exact fit has unbounded evidence: keep the residual at least at float64 resolution
        residual_null = np.maximum(target_sq - x2.sum(axis=0), tiny * target_sq)
    # Beyond these bounds the evidence equals its limit at t -> 0 or t -> inf to float64 precision.
    t_low, t_high = sigma.min() * tiny, sigma.max() / tiny
    t = np.full(x2.shape[1], float(np.clip(start, t_low, t_high)))
    evidence = _evidence_at(sigma, x2, residual_null, t, n)
    active = np.arange(x2.shape[1])
    for _ in range(max_iter):
        ta, evidence_a = t[active], evidence[active]
        t_new, evidence_new = _next_t(sigma, x2[:, active], residual_null[active], ta, n, t_low, t_high)
        gain = evidence_new - evidence_a
        t[active] = np.where(gain > 0, t_new, ta)  # a step that loses (to rounding) is not taken
        evidence[active] = np.where(gain > 0, evidence_new, evidence_a)
        # Settled: t converged, t at a limit, or no gain measurable in float64 (a flat approach to a limit).
        no_gain = gain <= 4 * tiny * np.maximum(np.abs(evidence_a), 1.0)
        settled = (np.abs(t_new - ta) <= tol * ta) | (t_new == t_low) | (t_new == t_high) | no_gain
        active = active[~settled]
        if active.size == 0:
            break
    candidates = [evidence, _evidence_at(sigma, x2, residual_null, np.full_like(t, np.inf), n)]
    if sigma.size == n:
        candidates.append(_interpolation_limit(sigma, x2, n))
    best = np.max(candidates, axis=0)
    stuck = active[best[active] == candidates[0][active]]
    if stuck.size:
        warnings.warn(f"LogME: {stuck.size} of {len(t)} targets did not converge in {max_iter} fixed-point "
                      f"steps (tol {tol}); their evidence is taken at the last step",
                      MetricWarning, stacklevel=3)
    return best
