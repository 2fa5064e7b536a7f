"""H-score and the Ledoit-Wolf H-score: against brute-force pseudo-inverse formulas, sklearn's LedoitWolf,
known limits, the torch path, and the input checks."""
import numpy as np
import pytest
from sklearn.covariance import LedoitWolf

from metrics import _gram, hscore, reg_hscore


def class_means_per_sample(features, labels):
    g = np.zeros_like(features)
    for c in np.unique(labels):
        g[labels == c] = features[labels == c].mean(axis=0)
    return g


def brute_force_hscore(features, labels, rcond):
    cov = np.cov(features, rowvar=False)
    cov_g = np.cov(class_means_per_sample(features, labels), rowvar=False)
    return np.trace(np.linalg.pinv(cov, rcond=rcond) @ cov_g)


def brute_force_reg_hscore(features, labels):
    """The published regularised H-score: sklearn LedoitWolf and pinv(rcond=1e-15)."""
    f = features - features.mean(axis=0)
    estimator = LedoitWolf(assume_centered=False).fit(f)
    shrinkage = estimator.shrinkage_
    cov_g = np.atleast_2d(np.cov(class_means_per_sample(f, labels), rowvar=False))
    return np.trace(np.linalg.pinv(estimator.covariance_, rcond=1e-15) @ ((1 - shrinkage) * cov_g))


def class_data(n, d, n_classes, shift, seed):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % n_classes
    return rng.normal(size=(n, d)) + shift * rng.normal(size=(n_classes, d))[labels], labels


@pytest.mark.parametrize("n, d", [(300, 20), (40, 100), (100, 100)])
def test_hscore_equals_pinv_formula(n, d):
    features, labels = class_data(n, d, 4, 0.5, seed=d)
    rcond = max(n, d) * np.finfo(np.float64).eps
    assert hscore(features, labels) == pytest.approx(brute_force_hscore(features, labels, rcond), rel=1e-9)


def test_hscore_equals_published_rcond_on_well_conditioned_features():
    features, labels = class_data(500, 30, 5, 0.3, seed=1)
    assert hscore(features, labels) == pytest.approx(brute_force_hscore(features, labels, 1e-15), rel=1e-9)


def test_hscore_near_zero_for_random_features():
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 3, 20000)
    # E[H] ~ (C - 1) D / N = 5e-4 for features independent of the labels
    assert 0 <= hscore(rng.normal(size=(20000, 5)), labels) < 5e-3


def test_hscore_reaches_c_minus_1_for_separated_classes():
    features, labels = class_data(600, 8, 4, 50.0, seed=3)  # between-class spread >> within-class noise
    assert hscore(features, labels) == pytest.approx(3.0, abs=0.01)
    assert hscore(features, labels) > 100 * hscore(np.random.default_rng(4).normal(size=(600, 8)), labels)


@pytest.mark.parametrize("n, d", [(300, 20), (40, 100), (60, 60)])
def test_reg_hscore_equals_sklearn_ledoit_wolf_formula(n, d):
    features, labels = class_data(n, d, 4, 0.5, seed=n + d)
    assert reg_hscore(features, labels) == pytest.approx(brute_force_reg_hscore(features, labels), rel=1e-8)


def test_reg_hscore_with_one_dimension_has_no_shrinkage():
    features, labels = class_data(50, 1, 2, 1.0, seed=5)
    assert reg_hscore(features, labels) == pytest.approx(brute_force_reg_hscore(features, labels), rel=1e-10)
    # one dimension: LedoitWolf shrinks nothing; cov_alpha = S = (N-1)/N cov
    assert reg_hscore(features, labels) == pytest.approx(hscore(features, labels) * 50 / 49, rel=1e-10)


@pytest.mark.parametrize("metric", [hscore, reg_hscore])
def test_invariances_and_no_mutation(metric):
    features, labels = class_data(90, 7, 3, 0.8, seed=6)
    before_f, before_l = features.copy(), labels.copy()
    first = metric(features, labels)
    assert metric(features, labels) == first
    assert metric(features, np.array([7, -2, 40])[labels]) == pytest.approx(first, rel=1e-12)
    assert metric(features + 100.0, labels) == pytest.approx(first, rel=1e-6)  # centred internally
    np.testing.assert_array_equal(features, before_f)
    np.testing.assert_array_equal(labels, before_l)


@pytest.mark.parametrize("metric", [hscore, reg_hscore])
@pytest.mark.parametrize("n, d", [(120, 20), (25, 60)])
def test_torch_path_equals_numpy(metric, n, d, monkeypatch):
    torch = pytest.importorskip("torch")
    calls = []
    original = torch.linalg.eigh
    monkeypatch.setattr(torch.linalg, "eigh", lambda *a, **k: calls.append(1) or original(*a, **k))
    features, labels = class_data(n, d, 4, 0.5, seed=n)
    assert metric(features, labels, device=torch.device("cpu")) == pytest.approx(metric(features, labels),
                                                                                  rel=1e-6)
    assert calls, "the torch branch did not run"


@pytest.mark.parametrize("metric", [hscore, reg_hscore])
@pytest.mark.parametrize("features, labels, message", [
    (np.ones(10), np.arange(10) % 2, "2-D"),
    (np.full((10, 3), np.inf), np.arange(10) % 2, "NaN or inf"),
    (np.ones((10, 3)), np.arange(11) % 2, "rows"),
    (np.random.default_rng(0).normal(size=(10, 3)), np.ones(10, dtype=int), "class"),
    (np.random.default_rng(0).normal(size=(10, 3)), np.linspace(0, 1, 10), "integer"),
])
def test_bad_input_raises_value_error(metric, features, labels, message):
    with pytest.raises(ValueError, match=message):
        metric(features, labels)


@pytest.mark.parametrize("n, d", [(300, 9), (40, 100)])
def test_hscore_equals_pinv_formula_unbalanced_dead_dimension_in_blocks(n, d, monkeypatch):
    # The between-class term weights each class by its own count: balanced classes would hide N/C for n_c.
    rng = np.random.default_rng(n)
    labels = rng.permutation(np.repeat(np.arange(4), (np.array([0.45, 0.1, 0.3, 0.15]) * n).astype(int)))
    features = rng.normal(size=(n, d)) + 0.6 * rng.normal(size=(4, d))[labels]
    features[:, 1] = -2.5
    rcond = max(n, d) * np.finfo(np.float64).eps
    expected = brute_force_hscore(features, labels, rcond), brute_force_reg_hscore(features, labels)
    monkeypatch.setattr(_gram, "BLOCK_ROWS", 11)
    assert hscore(features, labels) == pytest.approx(expected[0], rel=1e-9)
    assert reg_hscore(features, labels) == pytest.approx(expected[1], rel=1e-8)


@pytest.mark.parametrize("metric", [hscore, reg_hscore])
@pytest.mark.parametrize("n, d", [(200, 6), (30, 50)])
def test_tiny_features_score_as_their_scaled_up_copy(metric, n, d):
    # scale-invariant: with every scatter eigenvalue far below 1 nothing may be dropped as "zero"
    features, labels = class_data(n, d, 3, 0.7, seed=n)
    assert metric(1e-4 * features, labels) == pytest.approx(metric(features, labels), rel=1e-8)


def test_hscore_drops_an_eigenvalue_below_max_n_d_eps_times_the_largest():
    # a class-separating direction with variance ~80 eps x the largest: kept by a cut at min(N, D) eps = 20 eps
    # (adding ~0.8 to H), dropped at the documented max(N, D) eps = 300 eps
    n, d = 300, 20
    eps = np.finfo(np.float64).eps
    features, labels = class_data(n, d, 3, 0.5, seed=7)
    labels = np.repeat([0, 1, 2], [150, 60, 90])
    top = np.linalg.eigvalsh(np.cov(features, rowvar=False)).max()
    separating = labels + 0.3 * np.random.default_rng(1).normal(size=n)
    features[:, 0] = np.sqrt(80 * eps * top) * separating / separating.std()
    expected = brute_force_hscore(features, labels, rcond=300 * eps)
    assert brute_force_hscore(features, labels, rcond=20 * eps) > expected + 0.5
    assert hscore(features, labels) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("scale", [1e-90, 1e80])
@pytest.mark.parametrize("largest_entry", ["positive", "zero"])
def test_reg_hscore_of_features_whose_fourth_moments_underflow_or_overflow(scale, largest_entry):
    # divided by their largest magnitude first: at 1e-90 the fourth moments would underflow to 0 (no shrinkage),
    # at 1e80 the scatter would overflow. Shifted to a largest entry of 0, every magnitude is a negative entry's.
    features, labels = class_data(120, 8, 3, 0.5, seed=8)
    features[:, 3] = 2.0
    if largest_entry == "zero":
        features -= features.max()   # the score does not change with a shift
    assert reg_hscore(scale * features, labels) == pytest.approx(brute_force_reg_hscore(features, labels), rel=1e-8)


@pytest.mark.parametrize("metric", [hscore, reg_hscore])
@pytest.mark.parametrize("n, d", [(30, 4), (4, 30)])
def test_all_zero_features_score_zero(metric, n, d):
    # no between-class spread at all: H = tr(cov^+ 0) = 0
    assert metric(np.zeros((n, d)), np.arange(n) % 2) == 0.0
