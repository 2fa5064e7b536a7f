"""EMMS: exact against brute force, the class-table path against the expanded arrays, the solvers against
each other, invariances, and input validation."""
import importlib
import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pytest

from metrics import MetricWarning, _gram, emms_fit
from metrics.emms import _simplex_qp, _simplex_qp_projected_gradient, emms

N, D, C, WIDTH = 240, 12, 6, 4
EMMS_MODULE = importlib.import_module("metrics.emms")   # `metrics.emms` the attribute is the function


def _zscore(array):
    return (array - array.mean(axis=0)) / (array.std(axis=0) + 1e-8)


def _residual(features, flabels, weights, ridge=0.0):
    """min over w of ||X w - sum_k lambda_k Y_k||^2 + ridge ||w||^2 on explicit z-scored arrays."""
    x = _zscore(features)
    target = sum(weight * _zscore(flabel) for weight, flabel in zip(weights, flabels))
    w = np.linalg.solve(x.T @ x + ridge * np.eye(x.shape[1]), x.T @ target) if ridge else \
        np.linalg.lstsq(x, target, rcond=None)[0]
    return np.sum((x @ w - target) ** 2) + ridge * np.sum(w * w)


def _problem(seed=0, n_flabels=3, separation=1.5, widths=None):
    """Class-structured features, labels, and class tables."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, C, N)
    features = rng.normal(size=(N, D)) + separation * rng.normal(size=(C, D))[labels]
    widths = widths or [WIDTH] * n_flabels
    tables = [rng.normal(size=(C, width)) for width in widths]
    return features, labels, tables


def _simplex_grid(n_flabels, steps):
    grid = np.linspace(0, 1, steps + 1)
    if n_flabels == 2:
        return [(a, 1 - a) for a in grid]
    return [(a, b, 1 - a - b) for a in grid for b in grid if a + b <= 1 + 1e-12]


@pytest.mark.parametrize("n_flabels, steps", [(2, 400), (3, 60)])
@pytest.mark.parametrize("ridge", [0.0, 5.0])
def test_exact_and_alternating_match_brute_force(n_flabels, steps, ridge):
    features, labels, tables = _problem(n_flabels=n_flabels)
    flabels = [table[labels] for table in tables]
    grid_min = min(_residual(features, flabels, weights, ridge) for weights in _simplex_grid(n_flabels, steps))
    exact = emms_fit(features, flabels, solver="exact", ridge=ridge)
    exact_min = _residual(features, flabels, exact.weights, ridge)
    assert exact.score == pytest.approx(-exact_min / (N * WIDTH), rel=1e-9)   # the reported score is real
    assert exact_min <= grid_min + 1e-9 and exact_min >= grid_min * (1 - 1e-3)
    alternating = emms_fit(features, flabels, solver="alternating", ridge=ridge, max_iter=5000, tol=1e-13)
    assert alternating.score == pytest.approx(exact.score, rel=1e-7)
    assert alternating.score <= exact.score + 1e-12


def test_alternating_objective_never_increases_and_stops_on_tol():
    features, labels, tables = _problem(seed=3)
    fit = emms_fit(features, tables, labels, solver="alternating", max_iter=500, tol=1e-10)
    assert 1 < len(fit.objective_history) < 500
    assert np.all(np.diff(fit.objective_history) <= 1e-9 * fit.objective_history[0])
    assert abs(fit.objective_history[-2] - fit.objective_history[-1]) <= 1e-10 * fit.objective_history[-2]
    assert len(emms_fit(features, tables, labels, solver="alternating", max_iter=3).objective_history) == 3


def test_class_tables_equal_expanded_arrays():
    features, labels, tables = _problem(seed=1, widths=[4, 7, 5])   # widths differ: PCA to 4
    expanded = [table[labels] for table in tables]
    for solver in ("exact", "alternating", "published"):
        assert emms(features, tables, labels, solver=solver) == pytest.approx(
            emms(features, expanded, solver=solver), rel=1e-9, abs=1e-12)


def test_pca_reduction_is_the_pca_of_the_flabel():
    features, labels, tables = _problem(seed=2, widths=[3, 6])
    narrow, wide = tables[0][labels], tables[1][labels]
    centred = wide - wide.mean(axis=0)
    values, vectors = np.linalg.eigh(centred.T @ centred)
    vectors = vectors[:, np.argsort(values)[::-1][:3]]
    vectors *= np.sign(vectors[np.abs(vectors).argmax(axis=0), np.arange(3)])   # largest entry positive
    expected = emms(features, [narrow, centred @ vectors])   # already at the narrowest width: used as is
    assert emms(features, [narrow, wide]) == pytest.approx(expected, rel=1e-9)
    assert emms(features, tables, labels) == pytest.approx(expected, rel=1e-9)
    assert emms(features, [narrow, -centred @ vectors]) != pytest.approx(expected, rel=1e-6)  # signs matter


def test_rank_deficient_features_equal_their_independent_columns():
    features, labels, tables = _problem(seed=18)
    redundant = np.hstack([features, features[:, :3] * 2.0 + 1.0, np.full((N, 2), 4.0),
                           features[:, 3:4] - features[:, 5:6]])
    assert emms(redundant, tables, labels) == pytest.approx(emms(features, tables, labels), rel=1e-8)
    flabels = [table[labels] for table in tables]
    assert emms(redundant, flabels, solver="alternating") == pytest.approx(emms(features, flabels), rel=1e-7)


def test_stacked_array_equals_list():
    features, labels, tables = _problem(seed=4)
    flabels = [table[labels] for table in tables]
    assert emms(features, np.stack(flabels, axis=2)) == emms(features, flabels)
    assert emms(features, np.stack(tables, axis=2), labels) == emms(features, tables, labels)
    assert emms(features, flabels[0]) == emms(features, [flabels[0]])                 # one 2-D array: K = 1
    assert emms(features, tables[1], labels) == emms(features, [tables[1]], labels)


def test_noise_flabel_gets_less_weight():
    rng = np.random.default_rng(5)
    features = rng.normal(size=(N, D))
    informative = [features[:, :WIDTH] @ rng.normal(size=(WIDTH, WIDTH)) + 0.3 * rng.normal(size=(N, WIDTH))
                   for _ in range(2)]
    noise = rng.normal(size=(N, WIDTH))
    weights = emms_fit(features, [informative[0], noise, informative[1]]).weights
    assert weights[1] < min(weights[0], weights[2])
    assert weights.sum() == pytest.approx(1.0) and weights.min() >= 0


def test_invariant_to_column_scaling_and_label_renaming():
    features, labels, tables = _problem(seed=6)
    scaled = features * np.linspace(0.1, 30, D) + 7.0
    assert emms(scaled, tables, labels) == pytest.approx(emms(features, tables, labels), rel=1e-8)
    order = np.random.default_rng(0).permutation(C)          # class c is renamed to 100 + 3 * order[c]
    renamed = 100 + 3 * order[labels]
    renamed_tables = [table[np.argsort(order)] for table in tables]   # row of the j-th smallest new name
    assert emms(features, renamed_tables, renamed) == pytest.approx(emms(features, tables, labels), rel=1e-10)


def test_separable_features_outrank_random_and_perfect_features_score_zero():
    features, labels, tables = _problem(seed=7, separation=3.0)
    random_features = np.random.default_rng(8).normal(size=features.shape)
    separable, random_score = emms(features, tables, labels), emms(random_features, tables, labels)
    assert separable > random_score
    one_hot = np.eye(C)[labels]
    perfect = np.hstack([one_hot, np.random.default_rng(9).normal(size=(N, 3))])   # every Y_k in its span
    perfect_score = emms(perfect, tables, labels)
    assert abs(perfect_score) < 1e-9 and perfect_score >= separable
    assert -1.0 - 1e-9 <= random_score < separable < 0


def test_no_mutation_and_repeatable_and_memmap(tmp_path):
    features, labels, tables = _problem(seed=10)
    flabels = np.stack([table[labels] for table in tables], axis=2).astype(np.float32)
    copies = features.copy(), labels.copy(), [table.copy() for table in tables], flabels.copy()
    first = emms(features, tables, labels)
    assert emms(features, tables, labels) == first
    emms(features, flabels, solver="published")
    emms(features, flabels, solver="alternating")
    np.testing.assert_array_equal(features, copies[0])
    np.testing.assert_array_equal(labels, copies[1])
    for table, copy in zip(tables, copies[2]):
        np.testing.assert_array_equal(table, copy)
    np.testing.assert_array_equal(flabels, copies[3])
    path = tmp_path / "features.npy"
    np.save(path, features.astype(np.float32))
    on_disk = np.load(path, mmap_mode="r")
    assert emms(on_disk, tables, labels) == pytest.approx(emms(features.astype(np.float32), tables, labels),
                                                          rel=1e-12)


def test_small_blocks_give_the_same_score(monkeypatch):
    features, labels, tables = _problem(seed=11, widths=[4, 6, 4])
    flabels = [table[labels] for table in tables]
    expected = emms(features, tables, labels), emms(features, flabels)
    monkeypatch.setattr(_gram, "BLOCK_ROWS", 17)   # N = 240: 15 blocks, the last one short
    assert emms(features, tables, labels) == pytest.approx(expected[0], rel=1e-10)
    assert emms(features, flabels) == pytest.approx(expected[1], rel=1e-10)


def test_interpolation_warning_and_ridge():
    rng = np.random.default_rng(12)
    features, flabels = rng.normal(size=(20, 30)), [rng.normal(size=(20, 4)) for _ in range(2)]
    with pytest.warns(MetricWarning, match="ridge"):
        assert emms(features, flabels) == pytest.approx(0.0, abs=1e-9)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert emms(features, flabels, ridge=5.0) < -1e-3


def test_torch_cpu_path_equals_numpy(monkeypatch):
    torch = pytest.importorskip("torch")
    calls = []
    real = _gram._torch_matmul

    def counting(device, dtype):
        calls.append(device)
        return real(device, dtype)

    features, labels, tables = _problem(seed=13)
    flabels = [table[labels] for table in tables]
    expected = emms(features, tables, labels), emms(features, flabels)
    monkeypatch.setattr(_gram, "_torch_matmul", counting)
    device = torch.device("cpu")
    assert emms(features, tables, labels, device=device) == pytest.approx(expected[0], rel=1e-6)
    assert emms(features, flabels, device=device) == pytest.approx(expected[1], rel=1e-6)
    assert len(calls) == 2


def _reference_module():
    path = Path(__file__).resolve().parents[1] / "bench" / "reference_emms.py"
    spec = importlib.util.spec_from_file_location("reference_emms", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_published_solver_equals_reimplementation_of_released_code():
    features, labels, tables = _problem(seed=14)
    flabels = np.stack([table[labels] for table in tables], axis=2)
    expected = _reference_module().published_emms(features, flabels)
    assert emms(features, flabels, solver="published") == pytest.approx(expected, rel=1e-9)
    assert emms(features, np.stack(tables, axis=2), labels, solver="published") == pytest.approx(expected,
                                                                                                rel=1e-9)
    assert expected < emms(features, flabels)   # a residual from a stale step, scaled by D2 twice over


def test_simplex_qp_enumeration_matches_projected_gradient():
    rng = np.random.default_rng(15)
    for n_flabels in (1, 2, 5):
        factor = rng.normal(size=(n_flabels + 2, n_flabels))
        quadratic, linear = factor.T @ factor, rng.normal(size=n_flabels)
        weights, value = _simplex_qp(quadratic, linear)
        reference = _simplex_qp_projected_gradient(quadratic, linear)
        assert value == pytest.approx(reference[1], abs=1e-9)
        np.testing.assert_allclose(weights, reference[0], atol=1e-6)


@pytest.mark.parametrize("change, match", [
    (dict(features=np.zeros(5)), "features must be 2-D"),
    (dict(features="abc"), "features"),
    (dict(features=np.full((N, D), np.nan)), "NaN or inf"),
    (dict(flabels=[]), "flabels is empty"),
    (dict(flabels=np.zeros((N, 2, 2, 2))), "flabels must be"),
    (dict(flabels="x"), "flabels must be"),
    (dict(flabels=[np.zeros((N - 1, 3))]), r"flabels\[0\] has"),
    (dict(flabels=[np.zeros((N, 3)), np.zeros(N)]), r"flabels\[1\] must be 2-D"),
    (dict(flabels=[np.full((N, 3), np.inf)]), r"flabels\[0\] holds NaN"),
    (dict(solver="fast"), "solver must be"),
    (dict(ridge=-1.0), "ridge must be"),
    (dict(ridge=float("nan")), "ridge must be"),
    (dict(ridge="big"), "ridge must be"),
    (dict(solver="published", ridge=1.0), "no ridge"),
    (dict(max_iter=0), "max_iter"),
    (dict(tol=-1.0), "tol"),
])
def test_bad_per_sample_inputs_raise(change, match):
    features, labels, tables = _problem(seed=16)
    arguments = dict(features=features, flabels=[table[labels] for table in tables])
    options = {key: change.pop(key) for key in ("solver", "ridge", "max_iter", "tol") if key in change}
    arguments.update(change)
    with pytest.raises(ValueError, match=match):
        emms(arguments["features"], arguments["flabels"], **options)


@pytest.mark.parametrize("change, match", [
    (dict(tables=lambda tables: [tables[0][:C - 1]]), r"flabels\[0\] is a class table with 5 rows"),
    (dict(tables=lambda tables: [np.vstack([tables[0], tables[0][:1]])]), "7 rows"),
    (dict(labels=lambda labels: labels[:-1]), "labels has"),
    (dict(labels=lambda labels: labels + 0.5), "labels must be integer"),
])
def test_bad_class_table_inputs_raise(change, match):
    features, labels, tables = _problem(seed=17)
    tables = change.get("tables", lambda value: value)(tables)
    labels = change.get("labels", lambda value: value)(labels)
    with pytest.raises(ValueError, match=match):
        emms(features, tables, labels)


@pytest.mark.parametrize("ridge", [0.0, 3.0])
def test_unbalanced_dead_dimensions_in_blocks_equal_brute_force(ridge, monkeypatch):
    rng = np.random.default_rng(19)
    labels = rng.permutation(np.repeat(np.arange(4), [120, 15, 60, 45]))
    features = rng.normal(size=(240, 9)) + 1.2 * rng.normal(size=(4, 9))[labels]
    features[:, 3] = 7.0                       # a dead feature dimension
    tables = [rng.normal(size=(4, 3)), rng.normal(size=(4, 3))]
    tables[1][:, 1] = 0.5                      # a dead F-label dimension: z-scores to 0 (std + 1e-8)
    flabels = [table[labels] for table in tables]
    grid_min = min(_residual(features, flabels, weights, ridge) for weights in _simplex_grid(2, 400))
    monkeypatch.setattr(_gram, "BLOCK_ROWS", 17)
    for fit in (emms_fit(features, tables, labels, ridge=ridge), emms_fit(features, flabels, ridge=ridge)):
        minimum = _residual(features, flabels, fit.weights, ridge)
        assert fit.score == pytest.approx(-minimum / (240 * 3), rel=1e-9)
        assert grid_min * (1 - 1e-3) <= minimum <= grid_min + 1e-9


def test_std_eps_is_1e_8_for_features_and_flabels():
    # A column with std 1e-8 z-scores to half its unit-variance self: with a ridge that scale shows.
    rng = np.random.default_rng(20)
    signal = rng.normal(size=(N, 2))
    features = np.hstack([1e-8 * signal[:, :1], rng.normal(size=(N, 3))])
    flabel = np.hstack([signal + 0.3 * rng.normal(size=(N, 2)), 1e-8 * rng.normal(size=(N, 1))])
    expected = -_residual(features, [flabel], [1.0], ridge=20.0) / (N * 3)   # _zscore divides by std + 1e-8
    assert emms(features, [flabel], ridge=20.0) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("fraction, kept", [(1.5e-10, True), (0.6e-10, False)])
def test_a_column_is_kept_while_its_unexplained_variance_is_above_1e_10_of_the_largest(fraction, kept):
    rng = np.random.default_rng(21)
    base, hidden = rng.normal(size=(N, 2)), rng.normal(size=N)
    base, hidden = _zscore(base), _zscore(hidden)
    hidden -= base @ np.linalg.lstsq(base, hidden, rcond=None)[0]        # orthogonal to the other columns
    delta = np.sqrt(fraction / np.mean(hidden ** 2))
    features = np.hstack([base, base[:, :1] + delta * hidden[:, None]])   # z-scoring rescales it by ~1
    unexplained = np.mean((features[:, 2] - features[:, 2].mean()) ** 2)
    delta *= np.sqrt(unexplained)                                         # the fraction after z-scoring
    features[:, 2] = base[:, 0] + delta * hidden
    flabel = np.column_stack([hidden, rng.normal(size=N)])
    score = emms(features, [flabel])
    without = emms(features[:, :2], [flabel])
    if kept:   # hidden is explained: half of the z-scored F-label (X^T X has condition ~1e10: rel 1e-5)
        assert score == pytest.approx(-_residual(features, [flabel], [1.0]) / (N * 2), rel=1e-5)
        assert score > without + 0.4
    else:
        assert score == pytest.approx(without, rel=1e-9)


def _simplex_projection(values):
    """Euclidean projection onto the simplex by bisection on the threshold t of max(values - t, 0)."""
    low, high = values.min() - 1.0, values.max()
    for _ in range(200):
        middle = (low + high) / 2
        low, high = (middle, high) if np.maximum(values - middle, 0.0).sum() > 1.0 else (low, middle)
    return np.maximum(values - (low + high) / 2, 0.0)


def _slsqp_minimum(features, flabels):
    """min over the simplex of ||(I - P_X) sum_k lambda_k Y_k||^2 on explicit z-scored arrays, by SLSQP."""
    from scipy.optimize import minimize

    x = _zscore(features)
    residuals = [y - x @ np.linalg.lstsq(x, y, rcond=None)[0] for y in map(_zscore, flabels)]
    gram = np.array([[np.vdot(a, b) for b in residuals] for a in residuals])
    n_flabels = len(flabels)
    result = minimize(lambda weights: weights @ gram @ weights, np.full(n_flabels, 1.0 / n_flabels),
                      jac=lambda weights: 2 * gram @ weights, method="SLSQP", bounds=[(0, 1)] * n_flabels,
                      constraints=[dict(type="eq", fun=lambda weights: weights.sum() - 1.0)],
                      options=dict(ftol=1e-15, maxiter=1000))
    return result.fun


@pytest.mark.parametrize("n_flabels, projected", [(12, False), (13, True)])
def test_projected_gradient_beyond_12_flabels_matches_slsqp(n_flabels, projected, monkeypatch):
    rng = np.random.default_rng(24)
    labels = rng.permutation(np.repeat(np.arange(3), [150, 30, 60]))
    features = rng.normal(size=(N, 6)) + rng.normal(size=(3, 6))[labels]
    features[:, 2] = -3.0                                               # a dead feature dimension
    flabels = [features[:, :2] @ rng.normal(size=(2, 2)) + rng.normal(scale=scale, size=(N, 2))
               for scale in np.linspace(0.5, 2.0, n_flabels)]
    calls = []
    real = EMMS_MODULE._simplex_qp_projected_gradient
    monkeypatch.setattr(EMMS_MODULE, "_simplex_qp_projected_gradient",
                        lambda *arguments: calls.append(1) or real(*arguments))
    fit = emms_fit(features, flabels)
    assert len(calls) == projected   # MAX_ENUMERATED_K = 12: enumeration up to 12 F-labels
    minimum = _slsqp_minimum(features, flabels)
    assert fit.score == pytest.approx(-minimum / (N * 2), rel=1e-9)
    assert _residual(features, flabels, fit.weights) == pytest.approx(minimum, rel=1e-9)


def test_projected_gradient_steps_are_step_1_over_l_from_the_uniform_mix():
    rng = np.random.default_rng(25)
    factor = rng.normal(size=(7, 5))
    quadratic, linear = factor.T @ factor, rng.normal(size=5)
    step = 1 / (2 * np.linalg.eigvalsh(quadratic).max())   # the gradient 2 (Q lambda - q) is 2 lambda_max-Lipschitz
    weights = np.full(5, 0.2)
    for max_steps in (1, 2, 3):
        weights = _simplex_projection(weights - step * 2 * (quadratic @ weights - linear))
        result, value = _simplex_qp_projected_gradient(quadratic, linear, max_steps=max_steps)
        np.testing.assert_allclose(result, weights, atol=1e-14)
        assert value == pytest.approx(weights @ quadratic @ weights - 2 * linear @ weights, rel=1e-12)


def test_projected_gradient_stops_at_the_first_move_below_1e_13(monkeypatch):
    rng = np.random.default_rng(26)
    factor = rng.normal(size=(15, 13))
    quadratic, linear = factor.T @ factor, rng.normal(size=13)
    iterates = [np.full(13, 1 / 13)]
    real = EMMS_MODULE._project_to_simplex
    monkeypatch.setattr(EMMS_MODULE, "_project_to_simplex", lambda values: iterates.append(real(values)) or
                        iterates[-1])
    weights, _ = _simplex_qp_projected_gradient(quadratic, linear)
    moves = np.abs(np.diff(iterates, axis=0)).max(axis=1)
    assert len(moves) > 10 and np.all(moves[:-1] >= 1e-13) and moves[-1] < 1e-13
    np.testing.assert_array_equal(weights, iterates[-1])


def _slow_alternation():
    """Two F-labels that differ mostly inside X's span: the alternation gains ~1e-5 a step at step 100."""
    rng = np.random.default_rng(22)
    features = rng.normal(size=(N, 9))
    shared, explained = rng.normal(size=(N, 3)), features[:, :3] @ rng.normal(size=(3, 3))
    flabels = [shared + explained + 0.3 * rng.normal(size=(N, 3)), shared - explained + 0.3 * rng.normal(size=(N, 3))]
    history = emms_fit(features, flabels, solver="alternating", max_iter=300, tol=0.0).objective_history
    return features, flabels, np.array(history)


def test_alternating_stops_at_the_first_relative_change_below_tol():
    features, flabels, history = _slow_alternation()
    assert np.all(np.diff(history) < 0)   # strictly decreasing over all 300 steps
    change = -np.diff(history) / history[:-1]
    for tol in (1e-4, 3e-5):
        expected = np.nonzero(change <= tol)[0][0] + 2   # objectives up to and including the first small change
        fit = emms_fit(features, flabels, solver="alternating", tol=tol)
        np.testing.assert_array_equal(fit.objective_history, history[:expected])
        assert 10 < expected < 100


def test_alternating_default_max_iter_is_100():
    features, flabels, history = _slow_alternation()
    assert -np.diff(history)[98] > 1e-6 * history[98]   # default tol 1e-8 is far from reached at step 100
    fit = emms_fit(features, flabels, solver="alternating")
    np.testing.assert_array_equal(fit.objective_history, history[:100])
    assert emms(features, flabels, solver="alternating") == fit.score == -history[99] / (N * 3)


@pytest.mark.parametrize("n_samples, warns", [(20, True), (21, False)])
def test_interpolation_warning_up_to_n_equal_d(n_samples, warns):
    rng = np.random.default_rng(27)
    features, flabels = rng.normal(size=(n_samples, 20)), [rng.normal(size=(n_samples, 3)) for _ in range(2)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        score = emms(features, flabels)
    assert [issubclass(warning.category, MetricWarning) for warning in caught] == ([True] if warns else [])
    assert score == pytest.approx(0.0, abs=1e-9)   # both interpolate: X spans the 19 or 20 centred dimensions


@pytest.mark.parametrize("ridge", [0.0, 3.0])
def test_all_constant_features_explain_nothing(ridge):
    rng = np.random.default_rng(28)
    labels = rng.permutation(np.repeat(np.arange(4), [100, 20, 70, 50]))
    features = np.tile([7.0, -2.0, 0.0], (N, 1))
    tables = [rng.normal(size=(4, 3)), rng.normal(size=(4, 3))]
    flabels = [table[labels] for table in tables]
    grid_min = min(np.sum(sum(weight * _zscore(flabel) for weight, flabel in zip(weights, flabels)) ** 2)
                   for weights in _simplex_grid(2, 400))
    for fit in (emms_fit(features, tables, labels, ridge=ridge), emms_fit(features, flabels, ridge=ridge)):
        assert fit.score == pytest.approx(-_residual(features, flabels, fit.weights, ridge) / (N * 3), rel=1e-12)
        assert grid_min * (1 - 1e-3) <= -fit.score * N * 3 <= grid_min + 1e-9


def test_class_tables_stay_exact_on_features_with_a_large_offset():
    """Class sums are centred before the products: an offset of 1e8 leaves the class-table path equal to the
    per-sample one to rounding (features in steps of 1/8 and N = 256, so that every class sum and mean is
    exact; uncentred, the products of sums of order 1e10 lose ~1e-8)."""
    rng = np.random.default_rng(29)
    labels = rng.permutation(np.repeat(np.arange(4), [128, 16, 64, 48]))
    features = np.round(8 * (rng.normal(size=(256, 7)) + 1.2 * rng.normal(size=(4, 7))[labels])) / 8
    features[:, 4] = 0.0                       # a dead feature dimension
    tables = [rng.normal(size=(4, 3)), rng.normal(size=(4, 3))]
    expected = emms(features, [table[labels] for table in tables])
    for offset in (0.0, 1e8):
        assert emms(features + offset, tables, labels) == pytest.approx(expected, rel=1e-13)


def test_published_solver_near_zero_equals_reimplementation_of_released_code():
    rng = np.random.default_rng(30)
    features = rng.normal(size=(N, 8))
    flabels = np.stack([features[:, :3] @ rng.normal(size=(3, 3)) + 0.01 * rng.normal(size=(N, 3))
                        for _ in range(2)], axis=2)
    expected = _reference_module().published_emms(features, flabels)
    assert -expected * N / 3 < 1.0   # the objective is below 1: clamped at 0, it is kept as it is
    assert emms(features, flabels, solver="published") == pytest.approx(expected, rel=1e-9)
