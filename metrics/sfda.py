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
input is copied and never modified. Labels may take any integer values (remapped to 0..C-1).
"""
from __future__ import annotations

import numpy as np
from scipy.special import softmax

from metrics._checks import as_features, as_labels, check_samples_per_class
from metrics._gram import class_means, row_blocks
from metrics._lda import lda_posterior


def sfda(features, labels) -> float:
    """SFDA score of features (N, D) for labels (N,), in (0, 1]. Higher is better."""
    x = as_features(features)
    targets, n_classes = as_labels(labels, x.shape[0])
    check_samples_per_class(targets, 2, "SFDA")
    probs, shrinkage = lda_posterior(x, targets, n_classes)
    softened = softmax(probs, axis=1)
    confidence = softened[np.arange(len(targets)), targets][:, None]
    means = class_means(x, targets, n_classes)
    other_means = (means.sum(axis=0) - means) / (n_classes - 1)
    challenged = x   # x (our own copy) is not needed again: challenged in place, in row blocks
    for start, stop in row_blocks(len(x)):
        pulled = other_means[targets[start:stop]]
        challenged[start:stop] = confidence[start:stop] * x[start:stop] + (1 - confidence[start:stop]) * pulled
    probs, _ = lda_posterior(challenged, targets, n_classes, shrinkage)
    return float(np.mean(probs[np.arange(len(targets)), targets]))
