"""NCTI: Neural Collapse Transferability Index (Wang, Luo, Zheng, Huang, Baktashmotlagh; CVPR 2023, "How Far
Pre-trained Models Are from Neural Collapse on the Target Dataset Informs their Transferability").

Zoo-relative: each model's three neural-collapse components are min-max normalised over the models, so the
function takes {model: features (N, D_m)} (same samples, same labels) and returns {model: score}.

Per model (as in the published code, BUserName/NCTI):
1. PCA to 64 dimensions (fewer if N or D is smaller).
2. An LDA classifier on the reduced features (sklearn LinearDiscriminantAnalysis): with
   τ = max(exp(-Σ of the 32 largest PCA variances), 1e-10), the "svd" solver when τ is the floor 1e-10,
   otherwise the "eigen" solver with shrinkage τ.
3. Components:
       seli = ‖Z - mean(Z)‖_*            nuclear norm of the centred LDA projection Z (between-class spread)
       ncc  = (1/N) Σ_i P_LDA(y_i | x_i)  nearest-class-centre fit
       vc   = log Σ_c ‖P_c‖_*            P_c: the LDA posteriors (rows) of the samples of class c
                                         (within-class variability)
Then, with norm(v) = (v - min over models) / (max - min),

    NCTI(model) = norm(seli) + norm(ncc) - norm(vc).

Differences from published code:
- The PCA is exact; the published code uses sklearn's default solver, which is randomized and unseeded
  for large inputs.
- A component that is equal for every model is normalised to 0 instead of 0/0 (NaN).
"""
from __future__ import annotations

import numpy as np
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

from metrics._pca import pca_reduce
from metrics._zoo import as_zoo, each_model, min_max

PCA_DIM = 64
SHRINKAGE_FROM_TOP = 32
SHRINKAGE_FLOOR = 1e-10


def ncti(features_by_model, labels) -> dict[str, float]:
    """NCTI of each model in {model: features (N, D_m)} for shared labels (N,). Higher is better."""
    zoo, targets, n_classes = as_zoo(features_by_model, labels, "NCTI")
    components = np.array([collapse_components(x, targets, n_classes) for _, x in each_model(zoo)])
    seli, ncc, vc = (min_max(column) for column in components.T)
    return {name: float(score) for name, score in zip(zoo, seli + ncc - vc)}


def collapse_components(x: np.ndarray, targets: np.ndarray, n_classes: int) -> tuple[float, float, float]:
    """(seli, ncc, vc) of one model's features; see the module docstring."""
    reduced, variances = pca_reduce(x, n_components=PCA_DIM)
    shrinkage = max(float(np.exp(-variances[:SHRINKAGE_FROM_TOP].sum())), SHRINKAGE_FLOOR)
    if shrinkage == SHRINKAGE_FLOOR:
        lda = LinearDiscriminantAnalysis(solver="svd")
    else:
        lda = LinearDiscriminantAnalysis(solver="eigen", shrinkage=shrinkage)
    projected = lda.fit_transform(reduced, targets)
    seli = np.linalg.norm(projected - projected.mean(axis=0), ord="nuc")
    posteriors = lda.predict_proba(reduced)
    ncc = np.mean(posteriors[np.arange(len(targets)), targets])
    vc = np.log(sum(np.linalg.norm(posteriors[targets == c], ord="nuc") for c in range(n_classes)))
    return float(seli), float(ncc), float(vc)
