"""Straightforward reference implementations of LogME and TransRate, for the benchmark and the tests.

They compute the same scores as :func:`metrics.logme` and :func:`metrics.transrate` the way the published
code does: LogME with one fixed-point loop per class on an SVD of FᵀF (N > D) or of F (N <= D), TransRate
with a D x D log-determinant per class. The LogME evidence differs from the published code on purpose and as
in ``metrics.logme`` (see its docstring): log|A| counts the null space of F (the -(D - k)/2 log alpha term),
no 1e-5 in the updates, iteration to convergence, and the limits alpha/beta -> inf and -> 0 are compared.
"""
from __future__ import annotations

import numpy as np


def _rank(values: np.ndarray, size: int) -> int:
    return int((values > values.max() * size * np.finfo(np.float64).eps).sum())


def _fixed_point(x2, sigma, res_x2, n, tol, max_iter):
    """MacKay's updates from alpha = beta = 1 until t = alpha / beta settles or runs to 0 or inf."""
    eps = np.finfo(np.float64).eps
    alpha, beta = 1.0, 1.0
    for _ in range(max_iter):
        t = alpha / beta
        gamma = (sigma / (sigma + t)).sum()
        m2 = (sigma * x2 / (t + sigma) ** 2).sum()
        res2 = (x2 / (1 + sigma / t) ** 2).sum() + res_x2
        alpha = gamma / m2
        beta = (n - gamma) / res2
        t_new = alpha / beta
        if abs(t_new - t) <= tol * t or not sigma.min() * eps < t_new < sigma.max() / eps:
            break
    return alpha, beta


def _evidence_one_target(y, u, sigma, n, tol, max_iter):
    x2 = (u.T @ y) ** 2
    k = len(sigma)
    eps = np.finfo(np.float64).eps
    res_x2 = 0.0 if k == n else max(float(y @ y - x2.sum()), eps * float(y @ y))

    def evidence(alpha, beta):
        t = alpha / beta
        m2 = (sigma * x2 / (t + sigma) ** 2).sum()
        res2 = (x2 / (1 + sigma / t) ** 2).sum() + res_x2
        # log|A| = sum_i log(alpha + beta sigma_i) + (D - k) log alpha: with the D/2 log alpha of the prior,
        # the null space leaves k/2 log alpha (the published code keeps D/2 and drops the (D - k) term).
        return (k / 2.0 * np.log(alpha) + n / 2.0 * np.log(beta) - 0.5 * np.log(alpha + beta * sigma).sum()
                - beta / 2.0 * res2 - alpha / 2.0 * m2 - n / 2.0 * np.log(2 * np.pi)) / n

    with np.errstate(divide="ignore", invalid="ignore"):  # t -> 0 or inf: the limits below take over
        candidates = [evidence(*_fixed_point(x2, sigma, res_x2, n, tol, max_iter))]
    # alpha / beta -> inf: zero weights, y ~ N(0, beta^-1 I) with the best beta = N / ||y||^2
    candidates.append((n / 2.0 * np.log(n / (y @ y)) - n / 2.0 - n / 2.0 * np.log(2 * np.pi)) / n)
    if k == n:  # alpha / beta -> 0: exact interpolation, a finite limit when F Fᵀ is invertible
        candidates.append((n / 2.0 * np.log(n / (x2 / sigma).sum()) - 0.5 * np.log(sigma).sum() - n / 2.0
                           - n / 2.0 * np.log(2 * np.pi)) / n)
    return max(c for c in candidates if np.isfinite(c))


def logme_per_class_loop(features, labels, regression=False, tol=1e-6, max_iter=100_000) -> float:
    """LogME with a Python loop over targets, each with its own MacKay fixed-point loop (the published layout;
    no Newton steps, hence the large ``max_iter`` for targets whose evidence is flat)."""
    f = np.asarray(features, dtype=np.float64)
    n, d = f.shape
    if n > d:
        v, s2, _ = np.linalg.svd(f.T @ f)
        k = _rank(s2, n)
        sigma, v = s2[:k], v[:, :k]
        u = (f @ v) / np.sqrt(sigma)
    else:
        u, s, _ = np.linalg.svd(f, full_matrices=False)
        k = _rank(s, d)
        sigma, u = s[:k] ** 2, u[:, :k]
    if regression:
        y = np.asarray(labels, dtype=np.float64).reshape(n, -1)
        targets = [y[:, i] for i in range(y.shape[1])]
    else:
        targets = [(labels == c).astype(np.float64) for c in np.unique(labels)]
    return float(np.mean([_evidence_one_target(y, u, sigma, n, tol, max_iter) for y in targets]))


def _coding_rate_dxd(z, eps):
    n, d = z.shape
    _, logdet = np.linalg.slogdet(np.eye(d) + z.T @ z / (n * eps))
    return 0.5 * logdet


def transrate_dxd(features, labels, eps=1e-4) -> float:
    """TransRate with a D x D log-determinant for the whole set and for each class (the published layout)."""
    z = np.asarray(features, dtype=np.float64)
    z = z - z.mean(axis=0, keepdims=True)
    classes = np.unique(labels)
    class_rates = [_coding_rate_dxd(z[labels == c], eps) for c in classes]
    return float(_coding_rate_dxd(z, eps) - np.mean(class_rates))
