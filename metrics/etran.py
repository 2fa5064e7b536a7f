"""ETran: Energy-Based Transferability Estimation (Gholami, Akbari, Wang, Kamranian, Zhang; ICCV 2023),
classification version.

Zoo-relative: {model: features (N, D_m)} (same samples, same labels) -> {model: score}.

Per model:
- Energy score S_en. Treating a sample's features f(x) as logits, its negative free energy is
  -E(x) = log Σ_d exp f_d(x). S_en is the mean of -E over the 0.5% of samples with the lowest -E (the most
  out-of-distribution ones for the pre-trained model; at least one sample), as in the published code
  (``Energy_Score(features, 0.5, 'bot')``).
- Classification score S_cls = (1/N) Σ_i P_LDA(y_i | x_i), the mean posterior of the true class under a
  shrinkage LDA with SFDA's adaptive shrinkage (metrics._lda.lda_posterior: step 1 of metrics.sfda).
Then, min-max normalised over the models as in the published combination (tw.py):

    ETran(model) = 0.15 · norm(S_en) + 0.85 · norm(S_cls).

What is included: S_en and S_cls only. The paper's third score, the SVD-based regression score S_reg, scores
regression targets (bounding boxes in object detection); the published classification pipeline (the
notebook reproducing the paper's classification table) combines only S_en and S_cls, as done here.

Differences from published code: the published "LDA" calls numpy's symmetric eigensolver on the
non-symmetric matrix S̃_w⁻¹ S_b, whose orthonormal eigenvector matrix V gives V Vᵀ = I, so its classifier
reduces to a nearest-class-mean softmax on the raw features. Here the LDA posterior is the one the paper
describes (coefficients S̃_w⁻¹ μ_c); pass ``published_lda=True`` to reproduce the published classifier
(coefficients μ_c). Both agree when the shrunk within-class scatter is the identity. A component that is
equal for every model is normalised to 0 instead of 0/0 (NaN).
"""
from __future__ import annotations

import numpy as np
from scipy.special import logsumexp, softmax

from metrics._gram import class_means, row_blocks
from metrics._lda import lda_posterior
from metrics._zoo import as_zoo, each_model, min_max

ENERGY_WEIGHT = 0.15
LDA_WEIGHT = 0.85
LOWEST_ENERGY_PER_MILLE = 5  # the lowest 0.5% of samples


def etran(features_by_model, labels, *, published_lda: bool = False) -> dict[str, float]:
    """ETran of each model in {model: features (N, D_m)} for shared labels (N,). Higher is better."""
    zoo, targets, n_classes = as_zoo(features_by_model, labels, "ETran")
    scores = [(energy_score(x), lda_score(x, targets, n_classes, published_lda)) for _, x in each_model(zoo)]
    energy, classification = (np.array(column) for column in zip(*scores))
    combined = ENERGY_WEIGHT * min_max(energy) + LDA_WEIGHT * min_max(classification)
    return {name: float(score) for name, score in zip(zoo, combined)}


def energy_score(x: np.ndarray) -> float:
    """Mean negative free energy log Σ_d exp f_d(x) over the lowest 0.5% of samples (at least one)."""
    negative_energy = np.concatenate([logsumexp(x[start:stop], axis=1) for start, stop in row_blocks(len(x))])
    count = max(1, LOWEST_ENERGY_PER_MILLE * len(x) // 1000)
    return float(np.mean(np.partition(negative_energy, count - 1)[:count]))


def lda_score(x: np.ndarray, targets: np.ndarray, n_classes: int, published_lda: bool = False) -> float:
    """Mean LDA posterior of the true class (ETran's S_cls); see the module docstring for ``published_lda``."""
    if published_lda:
        means = class_means(x, targets, n_classes)
        priors = np.bincount(targets, minlength=n_classes) / len(targets)
        logits = x @ means.T - 0.5 * np.einsum("cd,cd->c", means, means) + np.log(priors)
        posteriors = softmax(logits, axis=1)
    else:
        posteriors, _ = lda_posterior(x, targets, n_classes)
    return float(np.mean(posteriors[np.arange(len(targets)), targets]))
