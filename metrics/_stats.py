"""The lazily computed, cached statistics of one cell that several metrics share (issue 26); the table of
which metric uses which is in :mod:`metrics.cell`, whose :func:`~metrics.cell.score_cell` computes each once."""
from __future__ import annotations

import numpy as np

from metrics import _gram, _lda
from metrics._checks import as_features, as_features_blockwise, as_labels
from metrics._spectral import eigh


class CellStatistics:
    """Lazily computed, cached statistics of one cell: features (N, D) and labels (N,) (labels may be None or
    real-valued targets for a metric that reads them itself). Neither array is ever written; the features are
    validated (as :func:`metrics._checks.as_features`, errors naming them ``name``) on first access to anything
    derived from them. ``device`` (a torch device, e.g. "cuda") is where the centred Gram and its eigh are made
    for the metrics that ask for them without a device of their own (the PCA of GBC, N-LEEP and NCTI, SFDA's
    scatter); None: numpy."""

    def __init__(self, features, labels=None, name: str = "features", device=None):
        self.source = features
        self.labels = labels
        self.name = name
        self.device = device
        self._cache: dict = {}

    def _cached(self, key, make):
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def release(self) -> None:
        """Drop every cached statistic (the N x D copy included)."""
        self._cache.clear()

    # ----- the features ----------------------------------------------------------------------------------
    @property
    def centred(self) -> np.ndarray:
        """Xc = x - x.mean(axis=0) on a validated float64 copy (centred in place: one N x D array)."""
        if "centred" not in self._cache:
            x = as_features(self.source, self.name)
            self._cache["peak"] = float(max(x.max(), -x.min()))   # the largest magnitude, before centring
            mean = x.mean(axis=0)
            x -= mean
            self._cache["mean"], self._cache["centred"] = mean, x
        return self._cache["centred"]

    def _numeric_array(self) -> bool:
        return isinstance(self.source, np.ndarray) and self.source.dtype.kind in "biuf"

    @property
    def shape(self) -> tuple[int, int]:
        """(N, D), validated; for a numeric ndarray without the float64 copy (LogME in float64 needs none)."""
        if "centred" in self._cache or not self._numeric_array():
            return self.centred.shape
        return self._cached("shape", lambda: as_features_blockwise(self.source, self.name).shape)

    @property
    def mean(self) -> np.ndarray:
        self.centred
        return self._cache["mean"]

    @property
    def peak(self) -> float:
        """max |x| of the features as given."""
        self.centred
        return self._cache["peak"]

    @property
    def raw(self) -> np.ndarray:
        """The caller's features as an array, never written (an ndarray or memmap is not copied); products of
        it in :mod:`metrics._gram` convert each block to float64, so they equal those of the float64 copy."""
        self.shape   # validation first
        return self.source if self._numeric_array() else self._cached("raw", lambda: np.asarray(self.source))

    @property
    def row_norms_sq(self) -> np.ndarray:
        return self._cached("row_norms_sq", lambda: np.einsum("ij,ij->i", self.centred, self.centred))

    def gram(self, side: str, device=None, precision: str = "float64") -> np.ndarray:
        """The blocked centred Gram: ``side="features"`` XcᵀXc (D x D), ``"samples"`` Xc Xcᵀ (N x N), on
        ``device`` (None: the statistics' own device)."""
        device = self.device if device is None else device

        def make():
            x = self.centred
            return _gram.centred_cross(x if side == "features" else x.T, device=device, dtype=precision)
        return self._cached(("gram", side, _device_key(device), precision), make)

    def uncentred_gram(self, device=None) -> np.ndarray:
        """FᵀF of the features as given (LogME in float64), blocked, float64."""
        return self._cached(("uncentred_gram", _device_key(device)),
                            lambda: _gram.centred_cross(self.raw, device=device))

    def small_side(self) -> str:
        """The side of the smaller Gram as H-score, TransRate and LogME choose it: features when N > D."""
        n, d = self.shape
        return "features" if n > d else "samples"

    def spectrum(self, side: str, device=None, precision: str = "float64") -> tuple[np.ndarray, np.ndarray]:
        """eigh of :meth:`gram` (ascending eigenvalues, eigenvectors); read-only, shared."""
        device = self.device if device is None else device
        return self._cached(("eigh", side, _device_key(device), precision),
                            lambda: eigh(self.gram(side, device, precision), device))

    def pca_spectrum(self) -> tuple[np.ndarray, np.ndarray]:
        """What exact PCA decomposes (:func:`metrics._pca.pca_reduce`): eigh of XcᵀXc when N >= D, else of
        the plain product Xc Xcᵀ."""
        n, d = self.shape
        if n >= d:
            return self.spectrum("features")
        return self._cached("pca_outer", lambda: np.linalg.eigh(self.centred @ self.centred.T))

    # ----- the labels ------------------------------------------------------------------------------------
    @property
    def classes(self) -> np.ndarray:
        return self._classes()[0]

    @property
    def n_classes(self) -> int:
        return self._classes()[1]

    def _classes(self):
        return self._cached("classes", lambda: as_labels(self.labels, self.shape[0]))

    @property
    def counts(self) -> np.ndarray:
        return self._cached("counts", lambda: np.bincount(self.classes))

    def centred_class_sums(self) -> np.ndarray:
        """Σ_{i in c} Xc_i per class (C, D)."""
        return self._cached("centred_class_sums",
                            lambda: _gram.class_sums(self.centred, self.classes, self.n_classes))

    def raw_class_sums(self) -> np.ndarray:
        """Σ_{i in c} x_i per class (C, D) of the features as given."""
        return self._cached("raw_class_sums", lambda: _gram.class_sums(self.raw, self.classes, self.n_classes))

    def lda_posterior(self) -> tuple[np.ndarray, float]:
        """SFDA's step 1 (:func:`metrics._lda.cell_posterior`): the regularised LDA's class posteriors (N, C) of
        the centred features, read-only, and its adaptive shrinkage λ; ETran's S_cls is their mean over the true
        classes."""
        return self._cached("lda_posterior", lambda: _read_only(_lda.cell_posterior(self)))


def _read_only(posterior: tuple[np.ndarray, float]) -> tuple[np.ndarray, float]:
    posterior[0].setflags(write=False)
    return posterior


def _device_key(device):
    return None if device is None else str(device)
