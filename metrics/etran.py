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

Each model's (S_en, S_cls) comes from its own cell statistics (:mod:`metrics.cell`), one model at a time; S_cls
is the mean true-class posterior of SFDA's step 1, which :func:`metrics.score_cell` computes once for both. From
several ``score_cell`` calls (``zoo_components``), :func:`from_components` combines them.
"""
from __future__ import annotations

import numpy as np
from scipy.special import softmax

from metrics._checks import check_samples_per_class
from metrics._gram import block_buffer, centred_block, row_blocks
from metrics._stats import CellStatistics
from metrics._zoo import as_zoo, combine, each_model

ENERGY_WEIGHT = 0.15
LDA_WEIGHT = 0.85
LOWEST_ENERGY_PER_MILLE = 5  # the lowest 0.5% of samples


def etran(features_by_model, labels, *, published_lda: bool = False) -> dict[str, float]:
    """ETran of each model in {model: features (N, D_m)} for shared labels (N,). Higher is better."""
    zoo, targets, _ = as_zoo(features_by_model, labels, "ETran")
    return from_components({name: _components_from(stats, published_lda=published_lda)
                            for name, stats in each_model(zoo, targets)})


def from_components(components_by_model: dict) -> dict[str, float]:
    """ETran of each model from its (S_en, S_cls) (``score_cell``'s ``zoo_components["etran"]`` of each model's
    cell): 0.15 · norm(S_en) + 0.85 · norm(S_cls), min-max over the models."""
    return combine(components_by_model, (ENERGY_WEIGHT, LDA_WEIGHT), "ETran")


def _components_from(stats: CellStatistics, *, published_lda: bool = False) -> tuple[float, float]:
    """(S_en, S_cls) of one model from its cell's statistics: S_en of the features as given, S_cls from the
    shared LDA posterior (SFDA's step 1, :meth:`CellStatistics.lda_posterior`) unless ``published_lda``."""
    check_samples_per_class(stats.classes, 2, "ETran")
    return energy_score(stats.raw), _classification_from(stats, published_lda)


def energy_score(x) -> float:
    """Mean negative free energy log Σ_d exp f_d(x) over the lowest 0.5% of samples (at least one)."""
    negative_energy = row_logsumexp(x)
    count = max(1, LOWEST_ENERGY_PER_MILLE * len(x) // 1000)
    return float(np.mean(np.partition(negative_energy, count - 1)[:count]))


def row_logsumexp(x) -> np.ndarray:
    """log Σ_d exp x_id of each row of x (N, D) as m_i + log Σ_d exp(x_id - m_i), m_i = max_d x_id, in float64
    row blocks (x is never written)."""
    result = np.empty(len(x))
    buffer = block_buffer(x)
    for start, stop in row_blocks(len(x)):
        block = centred_block(x, start, stop, 0.0, out=buffer)   # the rows as float64
        peak = block.max(axis=1, keepdims=True)
        block -= peak
        np.exp(block, out=block)
        result[start:stop] = np.log(block.sum(axis=1)) + peak[:, 0]
    return result


def lda_score(x, targets: np.ndarray, n_classes: int, published_lda: bool = False) -> float:
    """Mean LDA posterior of the true class (ETran's S_cls); see the module docstring for ``published_lda``
    (``n_classes`` is that of ``targets``, which the statistics count)."""
    return _classification_from(CellStatistics(x, targets), published_lda)


def _classification_from(stats: CellStatistics, published_lda: bool) -> float:
    """S_cls of a cell, on the centred features (the posteriors do not depend on the origin)."""
    targets = stats.classes
    if published_lda:
        means, priors = stats.centred_class_sums() / stats.counts[:, None], stats.counts / len(targets)
        logits = stats.centred @ means.T - 0.5 * np.einsum("cd,cd->c", means, means) + np.log(priors)
        posteriors = softmax(logits, axis=1)
    else:
        posteriors, _ = stats.lda_posterior()
    return float(np.mean(posteriors[np.arange(len(targets)), targets]))
