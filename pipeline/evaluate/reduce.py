"""Stage 3's ``--feature-dim D``: every candidate's features reduced by PCA to the same width D.

Why: a least-squares fit with no penalty for width rewards the widest features whatever they hold, and so do the
metrics built on class covariances; with a few hundred samples and candidates of widths 40 to 1280 (layers of one
network, small against big models), the widest candidate wins or saturates (N <= D). Reducing every candidate to
the same D, each on its own features, compares what the candidates' first D principal directions hold.

What it does to each metric: EMMS, LogME, H-score (and its shrinkage form), TransRate, SFDA, GBC, N-LEEP, PARC,
kNN, NCTI and ETran see the D-wide PCA scores (for GBC and N-LEEP, which reduce by PCA themselves, a second PCA
of PCA scores to a width at most D changes nothing when their own width is at most D); LEEP and NCE read the
source head's probabilities, not features, and are unchanged. A candidate already at most D wide is left as it
is (said once per dataset): padding cannot add information, and a narrower candidate gains nothing from width.

The PCA is exact and deterministic: the mean and the D x D covariance are accumulated in float64 over blocks of
rows (a memory-mapped feature file is never read whole), the top-D eigenvectors of the covariance are the
directions (each with its largest loading made positive), and the scores are computed block by block.
"""
from __future__ import annotations

import numpy as np

BLOCK_ROWS = 8192


def reduce_width(features: np.ndarray, width: int, block_rows: int = BLOCK_ROWS) -> np.ndarray:
    """PCA scores (N, width) of features (N, D) as float32, or the features unchanged when D <= width."""
    if width < 1:
        raise ValueError(f"--feature-dim must be a positive width, got {width}")
    n_samples, dim = features.shape
    if dim <= width:
        return features
    mean = np.zeros(dim)
    for start in range(0, n_samples, block_rows):
        mean += np.asarray(features[start:start + block_rows], dtype=np.float64).sum(axis=0)
    mean /= n_samples
    covariance = np.zeros((dim, dim))
    for start in range(0, n_samples, block_rows):
        block = np.asarray(features[start:start + block_rows], dtype=np.float64) - mean
        covariance += block.T @ block
    values, vectors = np.linalg.eigh(covariance)
    top = vectors[:, np.argsort(values)[::-1][:width]]
    signs = np.sign(top[np.argmax(np.abs(top), axis=0), np.arange(width)])
    top = top * np.where(signs == 0, 1.0, signs)
    scores = np.empty((n_samples, width), dtype=np.float32)
    for start in range(0, n_samples, block_rows):
        scores[start:start + block_rows] = (np.asarray(features[start:start + block_rows], dtype=np.float64)
                                            - mean) @ top
    return scores
