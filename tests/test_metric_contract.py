"""The metric contract (docs/metrics.md): registry types, keyword-only options, private shared helpers,
one warning class, and EMMS's public fit."""
import ast
import inspect
import warnings
from pathlib import Path

import numpy as np
import pytest

import metrics
from metrics import METRICS, EmmsFit, MetricSpec, MetricWarning, Needs, Target, emms, emms_fit

METRICS_DIR = Path(metrics.__file__).parent
DATA_PARAMETERS = {"features", "labels", "flabels", "source_probs", "features_by_model"}


def test_registry_uses_closed_types_that_still_equal_their_strings():
    for spec in METRICS.values():
        assert isinstance(spec.needs, Needs)
        assert spec.targets and all(isinstance(target, Target) for target in spec.targets)
    assert METRICS["emms"].needs == "features+flabels" and METRICS["ncti"].needs == Needs.ZOO_LABELS
    assert METRICS["logme"].targets == ("classes", "real")
    assert f"{Needs.SOURCE_PROBS_LABELS}" == "source_probs+labels" and str(Target.REAL) == "real"
    assert {spec.needs for spec in METRICS.values()} == set(Needs)


def test_metric_spec_coerces_plain_strings_and_rejects_unknown_values():
    spec = MetricSpec("toy", lambda x, y: 0.0, "features+labels", ("real", "classes"))
    assert spec.needs is Needs.FEATURES_LABELS and spec.targets == (Target.REAL, Target.CLASSES)
    with pytest.raises(ValueError, match="needs must be one of"):
        MetricSpec("toy", len, "features")
    with pytest.raises(ValueError, match="targets must be one of"):
        MetricSpec("toy", len, Needs.FEATURES_LABELS, ("integers",))
    with pytest.raises(ValueError, match="targets must be a non-empty tuple"):
        MetricSpec("toy", len, Needs.FEATURES_LABELS, "classes")


def test_registry_defaults_reach_the_metric():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), [30, 50, 20])
    features = rng.normal(size=(100, 80)) + 0.2 * rng.normal(size=(3, 80))[labels]
    assert METRICS["gbc"].defaults == {"pca_dim": 64}
    assert METRICS["gbc"](features, labels) == metrics.gbc(features, labels, pca_dim=64)
    assert METRICS["gbc"](features, labels) != pytest.approx(metrics.gbc(features, labels), rel=1e-6)


@pytest.mark.parametrize("name", sorted(METRICS))
def test_every_option_is_keyword_only(name):
    parameters = inspect.signature(METRICS[name].function).parameters.values()
    positional = [p.name for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    assert set(positional) <= DATA_PARAMETERS, f"{name}: options {set(positional) - DATA_PARAMETERS} positional"
    assert positional[0] in ("features", "source_probs", "features_by_model") and positional[-1] == "labels"


@pytest.mark.parametrize("name", sorted(METRICS))
def test_registry_traits_match_the_function(name):
    """The registry declares what stage 3 needs of a metric; its declaration must be what the function takes."""
    spec = METRICS[name]
    keywords = [p.name for p in inspect.signature(spec.function).parameters.values() if p.kind == p.KEYWORD_ONLY]
    assert set(spec.options) == set(keywords)
    assert spec.takes_device == ("device" in keywords)
    assert spec.takes_regression == ("regression" in keywords)
    assert set(spec.defaults) <= set(spec.options)


def test_saturating_metrics_and_details_are_declared_in_the_registry():
    assert sorted(n for n, spec in METRICS.items() if spec.saturates_when_n_le_d) == [
        "emms", "hscore", "reg_hscore", "sfda", "transrate"]
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(3), 20)
    features = rng.normal(size=(60, 8)) + rng.normal(size=(3, 8))[labels]
    tables = [rng.normal(size=(3, 5)), rng.normal(size=(3, 4))]
    score, details = METRICS["emms"].score_and_details(features, tables, labels)
    fit = emms_fit(features, tables, labels)
    assert score == fit.score and details == {"flabel_weights": list(fit.weights)}
    assert METRICS["knn"].score_and_details(features, labels) == (metrics.knn(features, labels), {})
    assert METRICS["emms"].saturates({}) and METRICS["emms"].saturates({"ridge": 0.0})
    assert not METRICS["emms"].saturates({"ridge": 4}) and not METRICS["knn"].saturates({})


def test_source_head_probabilities_have_one_name():
    for name, spec in METRICS.items():
        if spec.needs == Needs.SOURCE_PROBS_LABELS:
            assert list(inspect.signature(spec.function).parameters)[:2] == ["source_probs", "labels"], name


def test_no_metric_imports_a_peer_metric_module():
    public = {path.stem for path in METRICS_DIR.glob("*.py") if not path.stem.startswith("_")} - {"registry"}
    for path in METRICS_DIR.glob("*.py"):
        if path.stem == "__init__":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("metrics"):
                imported = {node.module.split(".")[1]} if "." in node.module else {a.name for a in node.names}
                assert not imported & public, f"{path.name} imports {imported & public}"


def test_every_warning_is_a_metric_warning():
    assert issubclass(MetricWarning, UserWarning)
    for path in METRICS_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "warnings.warn":
                assert len(node.args) > 1 and ast.unparse(node.args[1]) == "MetricWarning", \
                    f"{path.name}:{node.lineno} warns without MetricWarning"


def test_metric_warnings_are_recorded_inside_catch_warnings():
    # how stage 3 collects a metric's caveats: the suite's error filter does not get in the way
    rng = np.random.default_rng(1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        emms(rng.normal(size=(10, 20)), [rng.normal(size=(10, 3))])
    assert [w.category for w in caught] == [MetricWarning]
    with pytest.raises(MetricWarning, match="gets the same score, 0, whatever its features"):
        emms(rng.normal(size=(10, 20)), [rng.normal(size=(10, 3))])
    with warnings.catch_warnings():   # what the warning says: independent rows at N <= D all score 0
        warnings.simplefilter("ignore")
        flabels = [rng.normal(size=(10, 3))]
        assert [emms(rng.normal(size=(10, 20)), flabels) for _ in range(3)] == pytest.approx([0, 0, 0], abs=1e-12)


# ------------------------------------------------------------------------------------------- emms_fit


def _emms_problem(seed=0, n=300, d=10):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(5), [100, 20, 80, 60, 40])
    features = rng.normal(size=(n, d)) + 2.0 * rng.normal(size=(5, d))[labels]
    return rng, features, labels


def test_emms_fit_is_the_score_with_weights_on_the_simplex():
    rng, features, labels = _emms_problem()
    tables = [rng.normal(size=(5, 4)) for _ in range(3)]
    for solver in ("exact", "alternating", "published"):
        fit = emms_fit(features, tables, labels, solver=solver)
        assert isinstance(fit, EmmsFit) and fit.score == emms(features, tables, labels, solver=solver)
        assert fit.weights.shape == (3,) and fit.weights.min() >= 0
        assert fit.weights.sum() == pytest.approx(1.0, abs=1e-12)
        assert all(isinstance(value, float) for value in fit.objective_history)
    assert len(emms_fit(features, tables, labels).objective_history) == 1   # the exact solver: one value
    with pytest.raises(TypeError):
        emms_fit(features, tables, labels, "exact")   # options are keyword-only


def test_emms_fit_with_one_encoder_gives_weight_one():
    rng, features, labels = _emms_problem(seed=1)
    for solver in ("exact", "alternating", "published"):
        fit = emms_fit(features, [rng.normal(size=(5, 3))], labels, solver=solver)
        np.testing.assert_array_equal(fit.weights, [1.0])


def test_emms_fit_gives_a_random_flabel_table_no_weight_next_to_a_perfect_one():
    rng, features, labels = _emms_problem(seed=2)
    perfect = np.eye(5)[labels] @ rng.normal(size=(5, 4))   # a function of the class: inside X's span below
    explaining = np.hstack([features, np.eye(5)[labels]])
    random_table = rng.normal(size=(300, 4))
    for solver in ("exact", "alternating"):
        fit = emms_fit(explaining, [random_table, perfect], solver=solver, max_iter=1000, tol=1e-14)
        assert fit.weights == pytest.approx([0.0, 1.0], abs=1e-6)
        assert fit.score == pytest.approx(0.0, abs=1e-9)
        assert fit.objective_history[-1] == pytest.approx(0.0, abs=1e-6)


# ------------------------------------------------------------------------------------- input handling


def test_inputs_at_the_edge_of_validity_are_accepted_with_their_exact_value():
    rng = np.random.default_rng(3)
    labels = np.repeat(np.arange(3), [2, 5, 7])            # a class of exactly 2 samples: enough for a variance
    features = rng.normal(size=(14, 3)) + rng.normal(size=(3, 3))[labels]
    assert metrics.gbc(features, labels.astype(np.float64)) == metrics.gbc(features, labels)  # integral floats
    assert metrics.sfda(features, labels) == pytest.approx(metrics.sfda(features, labels + 10), rel=1e-12)
    probs = rng.dirichlet(np.ones(4), size=14)
    off = probs * (1 + 5e-4 * rng.uniform(-1, 1, size=(14, 1)))   # row sums within the 1e-3 tolerance
    assert metrics.leep(off, labels) == pytest.approx(metrics.leep(probs, labels), rel=1e-12)
    assert metrics.leep(probs.astype(np.float16), labels) == pytest.approx(metrics.leep(probs, labels), rel=1e-2)


def test_non_finite_rows_are_counted_in_every_block():
    rng = np.random.default_rng(4)
    labels = np.arange(50) % 2
    features = rng.normal(size=(50, 3))
    features[[7, 49]] = [np.nan, 1.0, np.inf]   # the last row lies beyond the first D rows and blocks
    with pytest.raises(ValueError, match="NaN or inf in 2 of 50 rows"):
        metrics.logme(features, labels)
    with pytest.raises(ValueError, match="NaN or inf in 2 of 50 rows"):
        emms(features, [rng.normal(size=(2, 3))], labels)
    flabel = rng.normal(size=(50, 3))
    flabel[49, 0] = np.nan
    with pytest.raises(ValueError, match=r"flabels\[0\] holds NaN or inf in 1 of 50 rows"):
        emms(rng.normal(size=(50, 3)), [flabel])


def test_probability_rows_must_sum_to_one_within_1e_3():
    labels = np.arange(8) % 2
    probs = np.full((8, 4), 0.25)
    assert metrics.leep(probs * (1 + 0.9e-3), labels) == pytest.approx(np.log(0.5), rel=1e-12)
    with pytest.raises(ValueError, match="sum to 1"):
        metrics.leep(probs * (1 + 1.1e-3), labels)


def test_without_a_device_no_torch_runs(monkeypatch):
    torch = pytest.importorskip("torch")

    def refuse(*args, **kwargs):
        raise AssertionError("torch was called without a device")

    for name in ("eigh", "svd", "cholesky"):
        monkeypatch.setattr(torch.linalg, name, refuse)
    monkeypatch.setattr(torch, "as_tensor", refuse)
    rng = np.random.default_rng(5)
    labels = np.arange(60) % 3
    for features in (rng.normal(size=(60, 5)), rng.normal(size=(20, 30))):   # N > D and N < D
        labels_n = labels[:len(features)]
        for device in (None, "cpu", "numpy"):
            for metric in (metrics.logme, metrics.hscore, metrics.reg_hscore, metrics.transrate):
                assert np.isfinite(metric(features, labels_n, device=device))
            assert np.isfinite(emms(features, [rng.normal(size=(3, 2))], labels_n, ridge=1.0, device=device))


def test_alternating_emms_stops_when_the_objective_does_not_change_even_with_tol_zero():
    rng, features, labels = _emms_problem(seed=6)
    fit = emms_fit(features, [rng.normal(size=(5, 3))], labels, solver="alternating", tol=0.0, max_iter=50)
    assert len(fit.objective_history) == 2 and fit.objective_history[0] == fit.objective_history[1]


def test_alternating_emms_starts_from_uniform_weights():
    # one alternation by hand: w for the uniform mix, then the best lambda on the simplex for that w
    rng, features, labels = _emms_problem(seed=7)
    flabels = [np.eye(5)[labels] @ rng.normal(size=(5, 3)) + rng.normal(size=(300, 3)) for _ in range(2)]
    x, ys = _z(features), [_z(y) for y in flabels]
    w = np.linalg.lstsq(x, (ys[0] + ys[1]) / 2, rcond=None)[0]
    grid = np.linspace(0, 1, 20001)
    objective = [np.sum((x @ w - a * ys[0] - (1 - a) * ys[1]) ** 2) for a in grid]
    best = int(np.argmin(objective))
    fit = emms_fit(features, flabels, solver="alternating", max_iter=1)
    assert fit.weights[0] == pytest.approx(grid[best], abs=1e-4)
    assert fit.objective_history[0] == pytest.approx(objective[best], rel=1e-7)


def _z(array):
    return (array - array.mean(axis=0)) / (array.std(axis=0) + 1e-8)


def test_which_devices_run_torch():
    from metrics._spectral import uses_torch

    torch = pytest.importorskip("torch")
    assert [uses_torch(d) for d in (None, "cpu", "numpy")] == [False, False, False]
    assert [uses_torch(d) for d in ("cuda", "cuda:1", torch.device("cpu"))] == [True, True, True]
