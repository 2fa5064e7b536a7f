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

Each model's components come from its own cell statistics (:mod:`metrics.cell`), one model at a time; from
several :func:`metrics.score_cell` calls (``zoo_components``), :func:`from_components` combines them.
"""
from __future__ import annotations

import numpy as np
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

from metrics._checks import check_samples_per_class
from metrics._pca import pca_from_spectrum
from metrics._stats import CellStatistics
from metrics._zoo import as_zoo, combine, each_model

PCA_DIM = 64
SHRINKAGE_FROM_TOP = 32
SHRINKAGE_FLOOR = 1e-10
WEIGHTS = (1.0, 1.0, -1.0)   # of norm(seli), norm(ncc), norm(vc)


def ncti(features_by_model, labels) -> dict[str, float]:
    """NCTI of each model in {model: features (N, D_m)} for shared labels (N,). Higher is better."""
    zoo, targets, _ = as_zoo(features_by_model, labels, "NCTI")
    return from_components({name: _components_from(stats) for name, stats in each_model(zoo, targets)})


def from_components(components_by_model: dict) -> dict[str, float]:
    """NCTI of each model from its (seli, ncc, vc) (:func:`collapse_components`, or ``score_cell``'s
    ``zoo_components["ncti"]`` of each model's cell): norm(seli) + norm(ncc) - norm(vc), min-max over the models."""
    return combine(components_by_model, WEIGHTS, "NCTI")


def collapse_components(x, targets: np.ndarray, n_classes: int) -> tuple[float, float, float]:
    """(seli, ncc, vc) of one model's features; see the module docstring (``n_classes`` is that of ``targets``,
    which the statistics count)."""
    return _components_from(CellStatistics(x, targets))


def _components_from(stats: CellStatistics) -> tuple[float, float, float]:
    """(seli, ncc, vc) of one model from its cell's statistics: the PCA to 64 is that of GBC's ``pca_dim=64``,
    from the shared eigh (:meth:`CellStatistics.pca_spectrum`)."""
    targets, n_classes = stats.classes, stats.n_classes
    check_samples_per_class(targets, 2, "NCTI")
    reduced, variances = pca_from_spectrum(stats.centred, stats.pca_spectrum(), n_components=PCA_DIM)
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
