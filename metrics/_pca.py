"""Exact, deterministic PCA shared by GBC, N-LEEP and NCTI."""
from __future__ import annotations

import numpy as np

from metrics._gram import centred_cross


def pca_reduce(x: np.ndarray, n_components: int | None = None,
               variance: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Exact PCA scores of x (N, D): the top ``n_components`` (capped at min(N, D)), or the fewest components
    whose explained-variance ratio exceeds ``variance`` (sklearn's rule for a fractional n_components).

    Returns (scores (N, k), explained variances (k,) with the N-1 denominator, as sklearn reports them).
    Each component's sign is fixed so that its largest-magnitude loading is positive (deterministic).
    """
    n_samples, dim = x.shape
    mean = x.mean(axis=0)
    centred = x - mean
    if n_samples >= dim:
        eigenvalues, vectors = np.linalg.eigh(centred_cross(centred))
        order = np.argsort(eigenvalues)[::-1]
        eigenvalues, vectors = np.clip(eigenvalues[order], 0.0, None), vectors[:, order]
        signs = np.sign(vectors[np.argmax(np.abs(vectors), axis=0), np.arange(dim)])
        scores_all = centred @ (vectors * np.where(signs == 0, 1.0, signs))
    else:
        eigenvalues, left = np.linalg.eigh(centred @ centred.T)
        order = np.argsort(eigenvalues)[::-1]
        eigenvalues, left = np.clip(eigenvalues[order], 0.0, None), left[:, order]
        scores_all = left * np.sqrt(eigenvalues)
        loadings = centred.T @ left
        signs = np.sign(loadings[np.argmax(np.abs(loadings), axis=0), np.arange(loadings.shape[1])])
        scores_all = scores_all * np.where(signs == 0, 1.0, signs)
    explained = eigenvalues / max(n_samples - 1, 1)
    if variance is not None:
        total = explained.sum()
        if total <= 0:
            raise ValueError("features are constant (zero variance); PCA cannot keep a fraction of nothing")
        k = int(np.searchsorted(np.cumsum(explained) / total, variance, side="right")) + 1
    else:
        k = n_components
    k = min(k, n_samples, dim)
    return scores_all[:, :k], explained[:k]
