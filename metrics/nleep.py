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

``em_precision="float32"`` runs the EM and the posteriors in float32; the PCA, the k-means start (sklearn's own,
in float64: a float32 k-means, or a k-means++-only start, does shift the score) and the LEEP sum stay float64.
Not the default and not the published number: ``"float64"`` (the default) leaves the value bit-identical to
before the option. Measured (``bench/results/2026-12-03-nleep-float32.md``, 2-core CPU shared with other jobs,
``covariance_type="diag"``, ``max_fit_samples=10000``, ``bench_grid.make_dataset(20000, 100, 0)``: N=20000,
D=2048, C=100, 500 components on 170 PCA dimensions): the score moved by 4e-8 to 1.4e-7 relative on seeds 0-2,
while over those seeds it spans 12% (standard deviation 6.5%). The mixture part (k-means, EM, posteriors; after
the PCA) took 8.5-8.7 s instead of 13.9-16.1 s (1.6-1.9x), the EM alone 1.4-1.7x (1.7-1.9x in CPU seconds), the
posteriors 2.5x; k-means (2-3 s) and the PCA (~4 s) are unchanged, so whole calls took 11.8-12.5 s instead of
15.2-17.9 s (1.2-1.5x). A float32 EM with full covariances may fail where float64 does not (sklearn's
ill-defined-covariance error); on the tests' small case every covariance type stays within 1e-5 relative.

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
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

from metrics._checks import as_positive_int, check_samples_per_class
from metrics._gram import row_blocks
from metrics._leep import leep_from_validated
from metrics._pca import pca_from_spectrum
from metrics._stats import CellStatistics
from metrics._sampling import stratified_subsample

COVARIANCE_TYPES = ("full", "diag", "tied", "spherical")
EM_PRECISIONS = ("float64", "float32")


def nleep(features, labels, *, components_per_class: int = 5, pca_variance: float = 0.8, seed: int = 0,
          covariance_type: str = "full", max_fit_samples: int | None = None,
          em_precision: str = "float64") -> float:
    """N-LEEP of features (N, D) for labels (N,), ≤ 0. Higher is better."""
    return _score_from(CellStatistics(features, labels), components_per_class=components_per_class,
                       pca_variance=pca_variance, seed=seed, covariance_type=covariance_type,
                       max_fit_samples=max_fit_samples, em_precision=em_precision)


def _score_from(stats: CellStatistics, *, components_per_class: int = 5, pca_variance: float = 0.8, seed: int = 0,
                covariance_type: str = "full", max_fit_samples: int | None = None,
                em_precision: str = "float64") -> float:
    """:func:`nleep` from a cell's shared statistics (the PCA from the shared centred Gram's eigh). It releases
    ``stats`` once the PCA scores are made, so that the mixture and its N x components posteriors do not sit
    beside the N x D centred copy (:func:`metrics.score_cell` runs it after the other metrics that share them)."""
    targets, n_classes = stats.classes, stats.n_classes
    check_samples_per_class(targets, 2, "N-LEEP")
    components_per_class = as_positive_int(components_per_class, "components_per_class")
    if not 0 < pca_variance <= 1:
        raise ValueError(f"pca_variance must be in (0, 1], got {pca_variance!r}")
    if covariance_type not in COVARIANCE_TYPES:
        raise ValueError(f"covariance_type must be one of {COVARIANCE_TYPES}, got {covariance_type!r}")
    if em_precision not in EM_PRECISIONS:
        raise ValueError(f"em_precision must be one of {EM_PRECISIONS}, got {em_precision!r}")
    max_fit_samples = as_positive_int(max_fit_samples, "max_fit_samples", optional=True)
    n_components = components_per_class * n_classes
    fitted = stratified_subsample(targets, max_fit_samples or stats.shape[0], seed)   # all N when None
    if n_components > len(fitted):
        raise ValueError(f"N-LEEP fits {components_per_class} x {n_classes} = {n_components} mixture components "
                         f"but only {len(fitted)} samples would fit them; lower components_per_class, "
                         f"raise max_fit_samples or add samples")
    reduced, _ = pca_from_spectrum(stats.centred, stats.pca_spectrum(), variance=pca_variance)
    stats.release()
    dtype = np.dtype(em_precision)
    mixture = GaussianMixture(n_components=n_components, covariance_type=covariance_type, random_state=seed)
    fit_rows = reduced if len(fitted) == len(reduced) else reduced[fitted]
    if dtype != np.float64:   # the default keeps sklearn's own start, so its value does not move
        mixture = _kmeans_started(fit_rows, mixture, dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mixture.fit(fit_rows.astype(dtype, copy=False))
    posteriors = np.empty((len(reduced), n_components))
    for start, stop in row_blocks(len(reduced)):   # sklearn's E-step makes several N x components temporaries
        posteriors[start:stop] = mixture.predict_proba(reduced[start:stop].astype(dtype, copy=False))
    return leep_from_validated(posteriors, targets, n_classes)


def _kmeans_started(x: np.ndarray, mixture: GaussianMixture, dtype) -> GaussianMixture:
    """A copy of ``mixture`` whose EM starts, in ``dtype``, from the weights, means and precisions that sklearn's
    own k-means start gives on ``x`` in float64: a fit with ``max_iter=0`` is that start (and one E-step). Given
    all three, sklearn skips its initialisation, so ``init_params`` is never used."""
    start = clone(mixture).set_params(max_iter=0).fit(x)
    return clone(mixture).set_params(weights_init=start.weights_.astype(dtype), means_init=start.means_.astype(dtype),
                                     precisions_init=start.precisions_.astype(dtype), init_params="random_from_data")
