"""N-LEEP: LEEP on a Gaussian mixture of the features (Li, Jia, Wang, Xing, Zhang, Li, Yu, Zhang, Wu;
CVPR 2021, "Ranking Neural Checkpoints").

1. PCA of the features keeping the fewest components whose explained variance exceeds ``pca_variance``
   (0.8 as published; exact PCA, sklearn's rule for a fractional n_components).
2. A Gaussian mixture with ``components_per_class`` × C components is fitted to the reduced features
   (sklearn GaussianMixture, default k-means initialisation and regularisation).
3. Its posteriors θ(x_i)_z = P(component z | x_i) play the role of the source head in LEEP:
       N-LEEP = (1/N) Σ_i log Σ_z P(y_i | z) θ(x_i)_z,  P(y|z) from the empirical joint (see metrics.leep).

``covariance_type="full"`` is the published setting; ``"diag"`` is much faster in high dimension and
often ranks models similarly, but gives different values. Measured (bench/bench_metrics.py, 2026-11-28,
2-core CPU): at N=1000, D=256, C=20 full takes 0.86 s and diag 0.036 s (24x); at N=5000, D=2048, C=100
diag takes ~9 s while full (500 components of full covariance on a few hundred PCA dimensions) runs for
hours. Effect on the Kendall tables of the offline benchmark (``make demo``: 9 EfficientNet-Lite
candidates, N=400): weighted tau full -> diag 0.7200 -> 0.7200 on mnist5k, 0.1263 -> 0.1165 on textiles,
0.6025 -> 0.6025 on digits.

``max_fit_samples=m`` fits the mixture on a seeded stratified subsample of m samples (at least 2 a class) when
N > m, and then scores every sample with it: the EM's cost (k-means initialisation included) falls by N / m,
while the posteriors and the LEEP sum still cover all N. Not the published number, an option for large N:
None (the default) fits on all samples, as published. It is not free: on the demo's tables (9 candidates, 400
samples, ``bench/results/2026-12-02-nleep-fit-subsample.md``) a fit on 300 samples moved the mean weighted tau
from 0.47 to 0.20 (full covariance) and from 0.52 to 0.48 (diagonal); on 200, to 0.22 and 0.37.

Memory: the posteriors, N x 5C float64 (1.7 GiB at sun397's 108,754 samples and 1985 components), are
predicted in row blocks: sklearn's E-step makes several such arrays, and predicting all of sun397 at once took
the benchmark's process to 12 GiB resident (``bench/bench_grid.py``, 2026-12-02). The EM's own E-steps run over
the fitted samples at once, so a fit on all N needs that much too; ``max_fit_samples`` bounds it.

Differences from published code:
- The mixture is seeded (``seed``, default 0); the published code is unseeded, so its score changes from
  run to run.
- The log is taken as in LEEP's definition; the copies of N-LEEP shipped with SFDA and EMMS omit it.
"""
from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

from metrics._checks import as_positive_int, check_samples_per_class
from metrics._gram import row_blocks
from metrics._leep import leep_from_validated
from metrics._pca import pca_from_spectrum
from metrics._stats import CellStatistics
from metrics._sampling import stratified_subsample

COVARIANCE_TYPES = ("full", "diag", "tied", "spherical")


def nleep(features, labels, *, components_per_class: int = 5, pca_variance: float = 0.8, seed: int = 0,
          covariance_type: str = "full", max_fit_samples: int | None = None) -> float:
    """N-LEEP of features (N, D) for labels (N,), ≤ 0. Higher is better."""
    return _score_from(CellStatistics(features, labels), components_per_class=components_per_class,
                       pca_variance=pca_variance, seed=seed, covariance_type=covariance_type,
                       max_fit_samples=max_fit_samples)


def _score_from(stats: CellStatistics, *, components_per_class: int = 5, pca_variance: float = 0.8, seed: int = 0,
                covariance_type: str = "full", max_fit_samples: int | None = None) -> float:
    """:func:`nleep` from a cell's shared statistics (the PCA from the shared centred Gram's eigh)."""
    targets, n_classes = stats.classes, stats.n_classes
    check_samples_per_class(targets, 2, "N-LEEP")
    components_per_class = as_positive_int(components_per_class, "components_per_class")
    if not 0 < pca_variance <= 1:
        raise ValueError(f"pca_variance must be in (0, 1], got {pca_variance!r}")
    if covariance_type not in COVARIANCE_TYPES:
        raise ValueError(f"covariance_type must be one of {COVARIANCE_TYPES}, got {covariance_type!r}")
    max_fit_samples = as_positive_int(max_fit_samples, "max_fit_samples", optional=True)
    n_components = components_per_class * n_classes
    fitted = stratified_subsample(targets, max_fit_samples or stats.shape[0], seed)   # all N when None
    if n_components > len(fitted):
        raise ValueError(f"N-LEEP fits {components_per_class} x {n_classes} = {n_components} mixture components "
                         f"but only {len(fitted)} samples would fit them; lower components_per_class, "
                         f"raise max_fit_samples or add samples")
    reduced, _ = pca_from_spectrum(stats.centred, stats.pca_spectrum(), variance=pca_variance)
    mixture = GaussianMixture(n_components=n_components, covariance_type=covariance_type, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mixture.fit(reduced if len(fitted) == len(reduced) else reduced[fitted])
    posteriors = np.empty((len(reduced), n_components))
    for start, stop in row_blocks(len(reduced)):   # sklearn's E-step makes several N x components temporaries
        posteriors[start:stop] = mixture.predict_proba(reduced[start:stop])
    return leep_from_validated(posteriors, targets, n_classes)
