"""SFDA: Self-challenging Fisher Discriminant Analysis (Shao, Zhao, Ge, Lu, Yin, Luo; ECCV 2022, "Not All
Models Are Equal: Predicting Model Transferability in a Self-challenging Fisher Space").

The exact steps (as in the published code, TencentARC/SFDA):

1. Regularised FDA. With class priors π_c = N_c / N, class means μ_c and population class covariances:
       S_w  = Σ_c π_c Cov_c                                    (within-class scatter)
       λ    = max(exp(-5 · λ_max(S_w)), 1e-10)                (their adaptive shrinkage)
       S̃_w  = (1 - λ) S_w + λ (tr S_w / D) I
   λ_max is estimated as published: power iteration from the row sums of S_w, three rounds of two
   normalised products each (x ← S_w x / ‖S_w x‖, y likewise), λ_max ≈ xᵀ S_w y.
   The published code projects onto all D generalised eigenvectors V of (S_b, S̃_w) and classifies with
   coef = M V Vᵀ; since Vᵀ S̃_w V = I and V is square, V Vᵀ = S̃_w⁻¹, so here coef = M S̃_w⁻¹ directly
   (S_b, the shrunk total scatter minus S̃_w, drops out). Then
       p(c | x) = softmax_c( xᵀ S̃_w⁻¹ μ_c - ½ μ_cᵀ S̃_w⁻¹ μ_c + log π_c ).
2. Self-challenge (ConfMix): soften p with a second softmax, q = softmax(p) row-wise; with μ̄_c the mean of
   the other classes' means, (Σ_k μ_k - μ_c) / (C - 1), move each sample towards it:
       x_i' = q_{i,y_i} x_i + (1 - q_{i,y_i}) μ̄_{y_i}.
3. Refit step 1 on x' with the same λ (means, priors and S_w recomputed on x') and score
       SFDA = (1/N) Σ_i p'(y_i | x_i')              (no log, as published)

Differences from published code: the published ConfMix writes into the caller's feature array; here the
input is copied and never modified. Labels may take any integer values (remapped to 0..C-1). Step 1 runs on the
centred features (:meth:`metrics._stats.CellStatistics.lda_posterior`, shared with ETran's S_cls in
:func:`metrics.score_cell`), with S_w from the centred Gram when N > D; a shift of the features moves every
class's logit by the same amount and x' by the same shift, so the score is that of the features as given, up to
the rounding of the origin (4e-11 relative where a dimension's mean is 5000x its spread; centred, the score is
the one that stays put when the features are shifted).
"""
from __future__ import annotations

import numpy as np
from scipy.special import softmax

from metrics._checks import check_samples_per_class
from metrics._gram import row_blocks
from metrics._lda import lda_posterior
from metrics._stats import CellStatistics


def sfda(features, labels) -> float:
    """SFDA score of features (N, D) for labels (N,), in (0, 1]. Higher is better."""
    return _score_from(CellStatistics(features, labels), challenge_in_place=True)


def _score_from(stats: CellStatistics, *, challenge_in_place: bool = False) -> float:
    """:func:`sfda` from a cell's shared statistics: step 1 is ``stats.lda_posterior()``, step 2 challenges the
    centred features Xc, x'_i = q_i Xc_i + (1 - q_i) μ̄_{y_i} (μ̄ of the class means of Xc), into a new array,
    or into Xc itself where ``challenge_in_place`` (only when these statistics are this call's own: one N x D
    array, as before), then refits."""
    targets, n_classes = stats.classes, stats.n_classes
    check_samples_per_class(targets, 2, "SFDA")
    probs, shrinkage = stats.lda_posterior()
    softened = softmax(probs, axis=1)
    confidence = softened[np.arange(len(targets)), targets][:, None]
    means = stats.centred_class_sums() / stats.counts[:, None]
    other_means = (means.sum(axis=0) - means) / (n_classes - 1)
    x = stats.centred
    challenged = x if challenge_in_place else np.empty_like(x)
    for start, stop in row_blocks(len(x)):
        pulled = other_means[targets[start:stop]]
        challenged[start:stop] = confidence[start:stop] * x[start:stop] + (1 - confidence[start:stop]) * pulled
    probs, _ = lda_posterior(challenged, targets, n_classes, shrinkage)
    return float(np.mean(probs[np.arange(len(targets)), targets]))
