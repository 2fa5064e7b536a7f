"""LogME: against a brute-force maximisation of the exact Gaussian evidence, the per-class reference loop,
the torch path, and its input checks."""
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import minimize, minimize_scalar

from metrics import MetricWarning, _gram, logme
from metrics._spectral import rank_mask

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from reference_logme_transrate import logme_per_class_loop  # noqa: E402


def brute_force_evidence(features, y):
    """max over alpha, beta of log N(y; 0, beta^-1 I + alpha^-1 F Fᵀ) / N, by Nelder-Mead from 9 starts.

    The N x N covariance form involves no eigen-decomposition and no null-space bookkeeping."""
    n = len(y)
    gram = features @ features.T

    def negative(log_params):
        alpha, beta = np.exp(np.clip(log_params, -60, 60))
        cov = np.eye(n) / beta + gram / alpha
        _, log_det = np.linalg.slogdet(cov)
        return 0.5 * (log_det + y @ np.linalg.solve(cov, y) + n * np.log(2 * np.pi)) / n

    runs = [minimize(negative, [a, b], method="Nelder-Mead",
                     options=dict(xatol=1e-9, fatol=1e-13, maxiter=4000))
            for a in (-4, 0, 4) for b in (-4, 0, 4)]
    return -min(run.fun for run in runs)


def class_data(n, d, n_classes, shift, seed):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % n_classes
    centres = rng.normal(size=(n_classes, d))
    return rng.normal(size=(n, d)) + shift * centres[labels], labels


@pytest.mark.parametrize("n, d", [(60, 8), (18, 40)])  # N > D, and N < D where the null space of F counts
def test_classification_equals_brute_force_evidence(n, d):
    features, labels = class_data(n, d, 3, 0.7, seed=n)
    expected = np.mean([brute_force_evidence(features, (labels == c).astype(float)) for c in range(3)])
    assert logme(features, labels) == pytest.approx(expected, abs=1e-7)


def test_regression_equals_brute_force_evidence():
    rng = np.random.default_rng(3)
    features = rng.normal(size=(40, 6))
    targets = np.column_stack([features @ rng.normal(size=6) + rng.normal(size=40), rng.normal(size=40)])
    expected = np.mean([brute_force_evidence(features, targets[:, k]) for k in range(2)])
    assert logme(features, targets, regression=True) == pytest.approx(expected, abs=1e-7)
    single = brute_force_evidence(features, targets[:, 0])
    assert logme(features, targets[:, 0], regression=True) == pytest.approx(single, abs=1e-7)


def test_boundary_maximum_zero_weights():
    # Noise features: the evidence is highest in the limit alpha/beta -> inf (weights forced to zero), where
    # y ~ N(0, ||y||^2/N I). The published code's 1e-5 in the updates stopped short of it.
    rng = np.random.default_rng(4)
    features = rng.normal(size=(30, 5))
    y = 1.0 + 0.1 * rng.normal(size=30)
    n = len(y)
    limit = (0.5 * n * np.log(n / (y @ y)) - 0.5 * n - 0.5 * n * np.log(2 * np.pi)) / n
    score = logme(features, y, regression=True)
    assert score >= limit - 1e-12
    assert score == pytest.approx(brute_force_evidence(features, y), abs=1e-7)


@pytest.mark.filterwarnings("error")
def test_flat_evidence_converges_without_warning():
    # Plain MacKay needs ~1e5 steps on some of these targets; the Newton steps on log t reach the same point.
    features, labels = class_data(50, 120, 6, 0.4, seed=120)
    expected = np.mean([brute_force_evidence(features, (labels == c).astype(float)) for c in range(6)])
    assert logme(features, labels) == pytest.approx(expected, abs=1e-7)


def test_zero_columns_leave_the_score_unchanged():
    # Exact log|A| counts -(D - k)/2 log alpha for the null space of F, so zero columns change nothing; the
    # widely copied code drops that term when N < D, and each zero column would add log(alpha) / (2N).
    features, labels = class_data(20, 60, 2, 1.0, seed=5)
    exact = logme(features, labels)
    widened = logme(np.hstack([features, np.zeros((20, 40))]), labels)  # zero columns add no information
    assert widened == pytest.approx(exact, abs=1e-12)


@pytest.mark.parametrize("n, d, regression", [(300, 40, False), (40, 120, False), (150, 20, True), (40, 120, True)])
def test_vectorised_equals_per_class_loop(n, d, regression):
    # (The reference is plain MacKay, which needs ~1e5 steps on some N < D targets whose evidence is flat.)
    features, labels = class_data(n, d, 6, 0.8, seed=d)
    targets = np.random.default_rng(1).normal(size=(n, 4)) + features[:, :4] if regression else labels
    assert logme(features, targets, regression=regression) == pytest.approx(
        logme_per_class_loop(features, targets, regression), abs=1e-8)


def test_rank_deficient_features_equal_per_class_loop():
    features, labels = class_data(200, 10, 4, 0.8, seed=6)
    duplicated = np.hstack([features, features[:, :5] * 2.0])  # rank 10 < D = 15 < N
    assert logme(duplicated, labels) == pytest.approx(logme_per_class_loop(duplicated, labels), abs=1e-8)


def test_separable_features_beat_random_ones():
    separable, labels = class_data(300, 16, 5, 3.0, seed=7)
    noise = np.random.default_rng(8).normal(size=separable.shape)
    assert logme(separable, labels) > logme(noise, labels) + 0.1


def test_exact_fit_gives_a_large_finite_score():
    labels = np.arange(90) % 3
    one_hot = np.eye(3)[labels]  # every target lies in the span of the features (N > D)
    score = logme(one_hot, labels)
    assert np.isfinite(score) and score > logme(one_hot + 0.3 * np.random.default_rng(9).normal(size=(90, 3)),
                                                labels)


def test_invariant_to_label_renaming():
    features, labels = class_data(120, 10, 4, 0.5, seed=10)
    renamed = np.array([30, 10, 40, 20])[labels]
    assert logme(features, renamed) == pytest.approx(logme(features, labels), abs=1e-12)


def test_inputs_unchanged_and_calls_repeatable():
    features, labels = class_data(80, 12, 3, 0.5, seed=11)
    features32 = features.astype(np.float32)
    before_f, before_l = features32.copy(), labels.copy()
    first = logme(features32, labels)
    assert logme(features32, labels) == first
    np.testing.assert_array_equal(features32, before_f)
    np.testing.assert_array_equal(labels, before_l)


@pytest.mark.parametrize("n, d", [(120, 20), (25, 60)])
def test_torch_path_equals_numpy(n, d, monkeypatch):
    torch = pytest.importorskip("torch")
    calls = []
    for name in ("eigh", "svd"):
        original = getattr(torch.linalg, name)
        monkeypatch.setattr(torch.linalg, name, lambda *a, _f=original, _n=name, **k: calls.append(_n) or _f(*a, **k))
    features, labels = class_data(n, d, 4, 0.5, seed=n)
    assert logme(features, labels, device=torch.device("cpu")) == pytest.approx(logme(features, labels), abs=1e-6)
    assert calls, "the torch branch did not run"


@pytest.mark.parametrize("features, labels, regression, message", [
    (np.ones(10), np.arange(10) % 2, False, "2-D"),
    (np.full((10, 3), np.nan), np.arange(10) % 2, False, "NaN"),
    (np.ones((10, 3)), np.arange(9) % 2, False, "rows"),
    (np.random.default_rng(0).normal(size=(10, 3)), np.zeros(10, dtype=int), False, "class"),
    (np.random.default_rng(0).normal(size=(10, 3)), np.linspace(0, 1, 10), False, "integer"),
    (np.random.default_rng(0).normal(size=(10, 3)), np.zeros((10, 2)), True, "all-zero"),
    (np.zeros((10, 3)), np.arange(10) % 2, False, "all zero"),
])
def test_bad_input_raises_value_error(features, labels, regression, message):
    with pytest.raises(ValueError, match=message):
        logme(features, labels, regression=regression)


def test_unbalanced_classes_dead_dimension_in_blocks_equal_brute_force(monkeypatch):
    rng = np.random.default_rng(21)
    labels = rng.permutation(np.repeat(np.arange(3), [38, 7, 19]))
    features = rng.normal(size=(64, 7)) + 0.8 * rng.normal(size=(3, 7))[labels]
    features[:, 4] = 2.0   # a dead unit: constant, not zero (LogME does not centre)
    expected = np.mean([brute_force_evidence(features, (labels == c).astype(float)) for c in range(3)])
    monkeypatch.setattr(_gram, "BLOCK_ROWS", 9)
    assert logme(features, labels) == pytest.approx(expected, abs=1e-7)


def profiled_evidence(features, y, t):
    """log evidence / N at alpha = t beta with the best beta, from the N x N covariance I + F Fᵀ / t."""
    n = len(y)
    cov = np.eye(n) + features @ features.T / t
    q = y @ np.linalg.solve(cov, y)
    return (0.5 * n * np.log(n / q) - 0.5 * n - 0.5 * np.linalg.slogdet(cov)[1] - 0.5 * n * np.log(2 * np.pi)) / n


def one_step_reference(features, y):
    """LogME after exactly one step from t = alpha / beta = the mean squared entry of F: the better of MacKay's
    update and a Newton step on log t of 2N x evidence (where it is concave; at most a factor e), if it
    improves on the start."""
    n, d = features.shape
    start = np.mean(features ** 2)
    gram = features.T @ features
    m = np.linalg.solve(gram + start * np.eye(d), features.T @ y)
    gamma = np.trace(np.linalg.solve(gram + start * np.eye(d), gram))
    t_mackay = start * gamma * np.sum((y - features @ m) ** 2) / (start * (m @ m) * (n - gamma))
    f = [2 * n * profiled_evidence(features, y, start * np.exp(s)) for s in (-1e-3, 0.0, 1e-3)]
    slope, curvature = (f[2] - f[0]) / 2e-3, (f[2] - 2 * f[1] + f[0]) / 1e-6
    t_newton = start * np.exp(np.clip(-slope / curvature, -1, 1)) if curvature < 0 else t_mackay
    return max(profiled_evidence(features, y, t) for t in (start, t_mackay, t_newton)), curvature < 0


def test_one_fixed_point_step_from_the_mean_squared_entry_then_a_warning():
    # max_iter=1 pins the start (t = mean of F^2, here 9, not the published 1), the iteration count and the side
    # of the Newton test.
    rng = np.random.default_rng(22)
    features = 3.0 * rng.normal(size=(40, 6))
    targets = np.column_stack([features @ rng.normal(size=6) + 9.0 * rng.normal(size=40),
                               0.9 * features[:, 0] + 3.0 * rng.normal(size=40)])
    references = [one_step_reference(features, targets[:, k]) for k in range(2)]
    assert all(newton for _, newton in references)   # the Newton branch is live
    with pytest.warns(MetricWarning, match="did not converge in 1 fixed-point steps"):
        score = logme(features, targets, regression=True, max_iter=1)
    assert score == pytest.approx(np.mean([value for value, _ in references]), abs=1e-9)
    assert score < logme(features, targets, regression=True) - 1e-4   # one step is not the maximum


@pytest.mark.parametrize("n, d", [(100, 512), (300, 64)])
def test_the_score_does_not_depend_on_the_scale_of_the_features(n, d):
    """The maximised evidence is scale-invariant (alpha absorbs the scale); from the published start t = 1
    the search was not: scaled by 1e7 it gave NaN, by 1e-9 a score 4e-3 low."""
    rng = np.random.default_rng(5)
    features, labels = np.maximum(rng.normal(size=(n, d)), 0.0), rng.integers(0, 10, n)
    unscaled = logme(features, labels)
    for scale in (1e-9, 1e-5, 1e5, 1e8):
        assert logme(scale * features, labels) == pytest.approx(unscaled, abs=1e-12)


def test_interpolation_limit_when_it_is_the_maximum():
    # rank F = N: as alpha/beta -> 0 the evidence tends to a finite limit, here the maximum:
    # (N/2 log(N / yᵀ(F Fᵀ)^-1 y) - 1/2 log det F Fᵀ - N/2 - N/2 log 2pi) / N
    rng = np.random.default_rng(217)
    features = rng.normal(size=(8, 12)) * np.exp(2 * rng.normal(size=12))
    y = rng.normal(size=8) * np.exp(3 * rng.normal())
    gram, n = features @ features.T, len(y)
    limit = (0.5 * n * np.log(n / (y @ np.linalg.solve(gram, y))) - 0.5 * np.linalg.slogdet(gram)[1]
             - 0.5 * n - 0.5 * n * np.log(2 * np.pi)) / n
    assert logme(features, y, regression=True) == pytest.approx(limit, abs=1e-10)
    assert limit >= brute_force_evidence(features, y) - 1e-7
    # The limit is a candidate of its own: after one step, far from t -> 0 (0.01 below the limit), it is the score.
    assert logme(features, y, regression=True, max_iter=1) == pytest.approx(limit, abs=1e-12)


def test_square_features_keep_the_float64_gram_of_rows_in_float32():
    # N = D decomposes F Fᵀ, which stays float64 under precision="float32" (only FᵀF, for N > D, is float32).
    features, labels = class_data(24, 24, 3, 0.7, seed=24)
    expected = np.mean([brute_force_evidence(features, (labels == c).astype(float)) for c in range(3)])
    assert logme(features, labels) == pytest.approx(expected, abs=1e-7)
    assert logme(features, labels, precision="float32") == pytest.approx(logme(features, labels), abs=1e-13)


def test_exact_fit_keeps_the_residual_at_eps_times_the_target_norm():
    """One-hot features (and a zero column) fit every class target exactly; the residual is floored at
    eps ||y||^2. For y the indicator of class c, F Fᵀ has y as an eigenvector (eigenvalue n_c), so
    yᵀ(I + F Fᵀ/t)^-1 y = n_c t / (t + n_c), log det(I + F Fᵀ/t) = sum_j log(1 + n_j/t), and the score is
    the maximum over t of the evidence with q = n_c t / (t + n_c) + eps n_c. More than half the samples are
    classes, so the maximum (t ~ eps) lies above the iteration's lower bound sigma_min eps."""
    counts = np.array([3, 2, 2, 1, 1, 1])
    n, eps = counts.sum(), np.finfo(np.float64).eps
    labels = np.random.default_rng(23).permutation(np.repeat(np.arange(6), counts))
    features = np.hstack([np.eye(6)[labels], np.zeros((n, 1))])

    def negative_evidence(log_t, n_c):
        t = np.exp(log_t)
        q = n_c * t / (t + n_c) + eps * n_c
        return -(0.5 * n * np.log(n / q) - 0.5 * n - 0.5 * np.log1p(counts / t).sum()
                 - 0.5 * n * np.log(2 * np.pi)) / n

    expected = np.mean([-minimize_scalar(negative_evidence, bounds=(-45, 5), args=(n_c,), method="bounded",
                                         options=dict(xatol=1e-10)).fun for n_c in counts])
    assert logme(features, labels) == pytest.approx(expected, abs=1e-7)


def test_rank_mask_is_relative_to_the_largest_value_at_any_scale():
    # numpy.linalg.matrix_rank's tolerance, largest singular value x max(N, D) x eps, on a matrix of norm ~1e-10
    rng = np.random.default_rng(24)
    matrix = 1e-10 * rng.normal(size=(30, 6)) @ rng.normal(size=(6, 12))   # rank 6
    matrix[:, 0] += 1e-22 * rng.normal(size=30)                              # far below the tolerance
    matrix[:, 1] += 1e-17 * rng.normal(size=30)                              # far above it: rank 8
    singular = np.linalg.svd(matrix, compute_uv=False)
    assert rank_mask(singular, 30).sum() == np.linalg.matrix_rank(matrix) == 8


def test_a_zero_over_zero_step_near_exact_interpolation_is_not_taken():
    # rank F = N = 8, D = 37, the maximum at t -> 0: MacKay's update there is 0/0 (N - gamma and the residual
    # both vanish). The iteration once kept that NaN as the evidence (np.maximum propagates NaN); stage 3 then
    # failed a REC cell with "non-finite score". A case found by a seeded random search, stored as it was made.
    case = np.load(Path(__file__).parent / "data" / "logme_rank_n_target.npz")
    features, y = case["features"], case["target"]
    gram, n = features @ features.T, len(y)
    limit = (0.5 * n * np.log(n / (y @ np.linalg.solve(gram, y))) - 0.5 * np.linalg.slogdet(gram)[1]
             - 0.5 * n - 0.5 * n * np.log(2 * np.pi)) / n
    assert logme(features, y, regression=True) == pytest.approx(limit, abs=1e-9)
    assert limit >= brute_force_evidence(features, y) - 1e-7
