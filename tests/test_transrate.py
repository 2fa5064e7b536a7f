"""TransRate: the fast smaller-Gram form against the D x D reference, a hand-computed case, the torch path and
the input checks."""
import sys
from pathlib import Path

import numpy as np
import pytest

from metrics import _gram, transrate

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from reference_logme_transrate import transrate_dxd  # noqa: E402


def class_data(n, d, n_classes, shift, seed, counts=None):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % n_classes if counts is None else np.repeat(np.arange(len(counts)), counts)
    return rng.normal(size=(len(labels), d)) + shift * rng.normal(size=(n_classes, d))[labels], labels


@pytest.mark.parametrize("n, d, n_classes, counts", [
    (60, 100, 3, None),            # N < D: every term on an n x n Gram
    (400, 30, 5, None),            # N > D, n_c = 80 > D: every term on the D x D Gram
    (None, 30, 3, [80, 12, 45]),   # N > D with classes on both sides of D
])
def test_fast_equals_dxd_reference(n, d, n_classes, counts):
    features, labels = class_data(n or sum(counts), d, n_classes, 0.7, seed=d, counts=counts)
    for eps in (1e-4, 0.5):
        assert transrate(features, labels, eps=eps) == pytest.approx(transrate_dxd(features, labels, eps), rel=1e-8)


def test_one_dimension_by_hand():
    z = np.array([[0.0], [1.0], [3.0], [4.0]])
    labels = np.array([0, 0, 1, 1])
    eps = 0.5
    centred = z[:, 0] - 2.0  # -2, -1, 1, 2
    rate_all = 0.5 * np.log(1 + (centred ** 2).sum() / (4 * eps))
    rate_0 = 0.5 * np.log(1 + (4 + 1) / (2 * eps))  # classes keep the overall centring
    rate_1 = 0.5 * np.log(1 + (1 + 4) / (2 * eps))
    assert transrate(z, labels, eps=eps) == pytest.approx(rate_all - (rate_0 + rate_1) / 2, rel=1e-14)


def test_class_average_is_unweighted():
    features, labels = class_data(None, 6, 2, 1.0, seed=1, counts=[40, 10])
    z = features - features.mean(axis=0)

    def rate(block):
        return 0.5 * np.linalg.slogdet(np.eye(6) + block.T @ block / (len(block) * 1e-4))[1]

    expected = rate(z) - 0.5 * (rate(z[labels == 0]) + rate(z[labels == 1]))
    assert transrate(features, labels) == pytest.approx(expected, rel=1e-10)


def test_separable_features_beat_random_ones():
    separable, labels = class_data(300, 10, 5, 4.0, seed=2)
    noise = np.random.default_rng(3).normal(size=separable.shape)
    assert transrate(separable, labels) > transrate(noise, labels) + 1.0


def test_invariances_and_no_mutation():
    features, labels = class_data(90, 7, 3, 0.8, seed=4)
    features32 = features.astype(np.float32)
    before_f, before_l = features32.copy(), labels.copy()
    first = transrate(features32, labels)
    assert transrate(features32, labels) == first
    assert transrate(features32, np.array([5, 1, 9])[labels]) == pytest.approx(first, rel=1e-12)
    np.testing.assert_array_equal(features32, before_f)
    np.testing.assert_array_equal(labels, before_l)


@pytest.mark.parametrize("n, d", [(150, 20), (30, 70)])
def test_torch_path_equals_numpy(n, d, monkeypatch):
    torch = pytest.importorskip("torch")
    calls = []
    original = torch.linalg.cholesky
    monkeypatch.setattr(torch.linalg, "cholesky", lambda *a, **k: calls.append(1) or original(*a, **k))
    features, labels = class_data(n, d, 3, 0.5, seed=n)
    assert transrate(features, labels, device=torch.device("cpu")) == pytest.approx(transrate(features, labels),
                                                                                   rel=1e-6)
    assert calls, "the torch branch did not run"


@pytest.mark.parametrize("features, labels, eps, message", [
    (np.ones(10), np.arange(10) % 2, 1e-4, "2-D"),
    (np.full((10, 3), np.nan), np.arange(10) % 2, 1e-4, "NaN"),
    (np.ones((10, 3)), np.arange(9) % 2, 1e-4, "rows"),
    (np.random.default_rng(0).normal(size=(10, 3)), np.zeros(10, dtype=int), 1e-4, "class"),
    (np.random.default_rng(0).normal(size=(10, 3)), np.linspace(0, 1, 10), 1e-4, "integer"),
    (np.random.default_rng(0).normal(size=(10, 3)), np.arange(10) % 2, 0.0, "eps"),
])
def test_bad_input_raises_value_error(features, labels, eps, message):
    with pytest.raises(ValueError, match=message):
        transrate(features, labels, eps=eps)


@pytest.mark.parametrize("n_dims", [6, 90])   # the D x D Gram, and the n x n Gram of each class
def test_default_eps_unbalanced_dead_dimension_in_blocks_equals_explicit_log_determinants(n_dims, monkeypatch):
    features, labels = class_data(None, n_dims, 3, 0.8, seed=n_dims, counts=[70, 9, 33])
    labels = np.random.default_rng(0).permutation(labels)
    features[:, 2] = 5.0
    z = features - features.mean(axis=0)

    def rate(block):   # 1/2 log det(I_D + ZᵀZ / (n eps)), eps = 1e-4, on the D x D matrix
        return 0.5 * np.linalg.slogdet(np.eye(n_dims) + block.T @ block / (len(block) * 1e-4))[1]

    expected = rate(z) - np.mean([rate(z[labels == c]) for c in range(3)])
    monkeypatch.setattr(_gram, "BLOCK_ROWS", 10)
    assert transrate(features, labels) == pytest.approx(expected, rel=1e-9)
