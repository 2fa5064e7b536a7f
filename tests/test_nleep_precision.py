"""N-LEEP's ``em_precision`` option (issue 26): the EM and the posteriors in float32, the k-means start in float64.

The default (float64) keeps sklearn's own start and the values pinned before the option existed; float32 starts
the EM from the weights, means and precisions of that same float64 k-means start, which sklearn then does not
recompute, and stays within 1e-5 relative of float64 on class-structured features.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import sklearn.cluster
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

import metrics
from metrics.nleep import COVARIANCE_TYPES, _kmeans_started, nleep

# nleep(*cell(), components_per_class=2, covariance_type=...) before em_precision existed (commit 1447361)
PINNED = {"full": -0.9628442169052696, "diag": -0.9831321149820733, "tied": -0.9004740421633983,
          "spherical": -0.8383445002658289}
FLOAT32_REL = 1e-5


def cell(n=240, d=20, n_classes=6, seed=7):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % n_classes
    return (0.6 * rng.standard_normal((n_classes, d)))[labels] + rng.standard_normal((n, d)), labels


def quiet_fit(mixture, x):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return mixture.fit(x)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_the_default_is_the_value_before_the_option(covariance_type):
    x, labels = cell()
    score = nleep(x, labels, components_per_class=2, covariance_type=covariance_type)
    assert score == pytest.approx(PINNED[covariance_type], rel=1e-12)
    assert nleep(x, labels, components_per_class=2, covariance_type=covariance_type,
                 em_precision="float64") == score


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("max_fit_samples", [None, 150])
def test_float32_is_within_1e_5_relative_of_float64(covariance_type, max_fit_samples):
    x, labels = cell()
    options = dict(components_per_class=2, covariance_type=covariance_type, max_fit_samples=max_fit_samples)
    float64 = nleep(x, labels, **options)
    assert nleep(x, labels, em_precision="float32", **options) == pytest.approx(float64, rel=FLOAT32_REL)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_the_explicit_start_in_float64_reproduces_sklearns_own_start(covariance_type):
    x, _ = cell()
    default = quiet_fit(GaussianMixture(12, covariance_type=covariance_type, random_state=3), x)
    start = _kmeans_started(x, GaussianMixture(12, covariance_type=covariance_type, random_state=3), np.float64)
    started = quiet_fit(start, x)
    assert started.n_iter_ == default.n_iter_
    np.testing.assert_allclose(started.predict_proba(x), default.predict_proba(x), rtol=0, atol=1e-12)


def test_sklearn_skips_its_own_kmeans_when_the_start_is_given(monkeypatch):
    x, _ = cell()
    started = _kmeans_started(x, GaussianMixture(12, covariance_type="diag", random_state=0), np.float32)

    def no_kmeans(*args, **kwargs):
        raise AssertionError("sklearn ran its k-means although the whole start was given")
    monkeypatch.setattr(sklearn.cluster, "KMeans", no_kmeans)
    quiet_fit(started, x.astype(np.float32))
    assert started.means_.dtype == started.precisions_cholesky_.dtype == np.float32


def test_float32_runs_the_kmeans_start_in_float64_and_the_em_and_posteriors_in_float32(monkeypatch):
    x, labels = cell()
    fits, predictions = [], []
    fit, predict_proba = GaussianMixture.fit, GaussianMixture.predict_proba

    def spy_fit(self, data, y=None):
        fits.append((data.dtype, self.max_iter, self.means_init is not None))
        return fit(self, data, y)

    def spy_predict_proba(self, data):
        predictions.append(data.dtype)
        return predict_proba(self, data)
    monkeypatch.setattr(GaussianMixture, "fit", spy_fit)
    monkeypatch.setattr(GaussianMixture, "predict_proba", spy_predict_proba)
    nleep(x, labels, components_per_class=2, covariance_type="diag", em_precision="float32")
    assert fits == [(np.float64, 0, False), (np.float32, 100, True)]
    assert predictions and set(predictions) == {np.dtype(np.float32)}


@pytest.mark.parametrize("bad", ["float16", "Float32", "single", np.float32, None])
def test_a_bad_em_precision_names_the_accepted_values(bad):
    x, labels = cell()
    with pytest.raises(ValueError, match=r"em_precision must be one of \('float64', 'float32'\)"):
        nleep(x, labels, components_per_class=2, em_precision=bad)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_callers_arrays_are_not_modified(dtype):
    x, labels = cell()
    x = x.astype(dtype)
    x_before, labels_before = x.copy(), labels.copy()
    nleep(x, labels, components_per_class=2, covariance_type="diag", em_precision="float32")
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(labels, labels_before)


def test_score_cell_equals_the_separate_call():
    x, labels = cell()
    options = {"components_per_class": 2, "covariance_type": "diag", "em_precision": "float32"}
    joint = metrics.score_cell(x, labels, ["nleep", "hscore"], options={"nleep": options})
    assert joint["nleep"] == nleep(x, labels, **options)
    assert joint["nleep"] != nleep(x, labels, **{**options, "em_precision": "float64"})
