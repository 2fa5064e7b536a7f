"""A straightforward implementation of the released EMMS algorithm, the baseline for the benchmark.

It follows the steps of ``EMMS`` in github.com/OpenGVLab/Multitask-Model-Selector (``metrics.py``) on the
expanded arrays: z-scored float64 copies of X (N, D1) and of the stacked F-labels (N, D2, K), a least-squares
w for the uniform mix (``np.linalg.lstsq`` on the N x D1 system), an unconstrained least-squares lambda
on the (N D2) x K system, sparsemax, and the residual of that w against the new mix scaled ``sum / N * D2``.
Unlike the released code it works on copies (the released code standardizes the caller's array in place).
``metrics.emms(..., solver="published")`` computes the same number from Gram products.
"""
from __future__ import annotations

import numpy as np


def _zscore(array: np.ndarray) -> np.ndarray:
    return (array - array.mean(axis=0)) / (array.std(axis=0) + 1e-8)


def sparsemax(values: np.ndarray) -> np.ndarray:
    """Euclidean projection of a vector onto the probability simplex."""
    ordered = np.sort(values)[::-1]
    cumulative = np.cumsum(ordered)
    ranks = np.arange(1, len(values) + 1)
    support = ranks[1 + ranks * ordered > cumulative][-1]
    return np.maximum(values - (cumulative[support - 1] - 1) / support, 0.0)


def published_emms(features: np.ndarray, flabels: np.ndarray) -> float:
    """The released EMMS number for features (N, D1) and per-sample F-labels stacked as (N, D2, K)."""
    x = _zscore(np.asarray(features, dtype=np.float64))
    y = np.stack([_zscore(np.asarray(flabels[:, :, k], dtype=np.float64)) for k in range(flabels.shape[2])],
                 axis=2)
    n_samples, width, n_flabels = y.shape
    target = y @ np.full(n_flabels, 1.0 / n_flabels)
    w = np.linalg.lstsq(x, target, rcond=None)[0]
    prediction = x @ w
    weights = np.linalg.lstsq(y.reshape(n_samples * width, n_flabels), prediction.reshape(-1), rcond=None)[0]
    mix = y @ sparsemax(weights)
    return -(np.sum((prediction - mix) ** 2) / n_samples * width)
