"""metrics.score_cell (issue 26): every metric of a cell scored together equals its separate call.

For each per-cell metric of the registry: the separate call through the registry (defaults applied), score_cell
with that metric alone and score_cell with every per-cell metric (in both orders, so that a metric that wrote
into a shared statistic, or read one meant for other options, would change a later one) agree to 1e-10
relative, on class-structured features with N > D, N <= D, a dead column, unbalanced classes, and with one
row block or many. The shared centred Gram is computed once; the caller's arrays are never written.
"""
from __future__ import annotations

import sys
import warnings

import numpy as np
import pytest

import metrics
from metrics import METRICS, MetricWarning, Needs, score_cell
from metrics import _gram
from metrics._stats import CellStatistics

PER_CELL = [name for name, spec in METRICS.items() if spec.needs != Needs.ZOO_LABELS]
ZOO = [name for name, spec in METRICS.items() if spec.needs == Needs.ZOO_LABELS]
REL = 1e-10
# cheap options so that the whole file runs in seconds; the same for the separate and the joint calls
OPTIONS = {"nleep": {"covariance_type": "diag"}, "knn": {"k": 3}, "parc": {"pca_dim": 8}}


def make_cell(n, d, n_classes, *, seed=0, dead=False, unbalanced=False):
    rng = np.random.default_rng(seed)
    if unbalanced:
        counts = np.maximum(2, (n * np.geomspace(1, 0.05, n_classes) / np.geomspace(1, 0.05, n_classes).sum())
                            .astype(int))
        labels = rng.permutation(np.repeat(np.arange(n_classes), counts))
    else:
        labels = rng.permutation(np.arange(n) % n_classes)
    n = len(labels)
    scale = (1.0 + np.arange(d)) ** -0.5
    features = ((rng.standard_normal((n_classes, d))[labels] + 2 * rng.standard_normal((n, d))) * scale + 0.3)
    features = features.astype(np.float32)
    if dead:
        features[:, [1, d // 2]] = 0.0
    tables = [rng.standard_normal((n_classes, 6)) + rng.standard_normal((n_classes, 1)) for _ in range(3)]
    logits = rng.standard_normal((n_classes, 9))[labels] + rng.standard_normal((n, 9))
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    return features, labels, tables, probs


CELLS = {
    "n>d": dict(n=400, d=24, n_classes=5),
    "n<=d": dict(n=40, d=64, n_classes=4),
    "dead column": dict(n=300, d=20, n_classes=4, dead=True),
    "unbalanced": dict(n=360, d=16, n_classes=6, unbalanced=True),
}


def separate(name, features, labels, tables, probs, options=OPTIONS):
    spec = METRICS[name]
    kwargs = options.get(name, {})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetricWarning)
        if spec.needs == Needs.SOURCE_PROBS_LABELS:
            return spec(probs, labels, **kwargs)
        if spec.needs == Needs.FEATURES_FLABELS:
            return spec(features, tables, labels, **kwargs)
        return spec(features, labels, **kwargs)


def joint(names, features, labels, tables, probs, options=OPTIONS):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetricWarning)
        return score_cell(features, labels, names, flabels=tables, source_probs=probs,
                          options={name: value for name, value in options.items() if name in names})


def assert_same(got, expected, what):
    assert got == pytest.approx(expected, rel=REL, abs=1e-300), what


@pytest.fixture(params=["one block", "many blocks"])
def blocks(request, monkeypatch):
    if request.param == "many blocks":
        monkeypatch.setattr(_gram, "BLOCK_ROWS", 7)
    return request.param


@pytest.mark.parametrize("cell", list(CELLS))
def test_every_metric_equals_its_separate_call(cell, blocks):
    features, labels, tables, probs = make_cell(**CELLS[cell])
    expected = {name: separate(name, features, labels, tables, probs) for name in PER_CELL}
    together = joint(PER_CELL, features, labels, tables, probs)
    backwards = joint(PER_CELL[::-1], features, labels, tables, probs)
    assert list(together) == PER_CELL and list(backwards) == PER_CELL[::-1]
    for name in PER_CELL:
        alone = joint([name], features, labels, tables, probs)
        assert list(alone) == [name]
        assert_same(alone[name], expected[name], f"{name} alone, {cell}, {blocks}")
        assert_same(together[name], expected[name], f"{name} with all, {cell}, {blocks}")
        assert_same(backwards[name], expected[name], f"{name} with all (reversed), {cell}, {blocks}")


def test_many_blocks_give_the_scores_of_one_block(monkeypatch):
    features, labels, tables, probs = make_cell(**CELLS["n>d"])
    one = joint(PER_CELL, features, labels, tables, probs)
    monkeypatch.setattr(_gram, "BLOCK_ROWS", 7)
    many = joint(PER_CELL, features, labels, tables, probs)
    for name in PER_CELL:
        assert many[name] == pytest.approx(one[name], rel=1e-8, abs=1e-12), name


def test_each_metric_gets_the_statistics_of_its_own_options():
    """Mixed precisions and options in one call: a Gram cached for one precision is not another's."""
    features, labels, tables, probs = make_cell(**CELLS["n>d"])
    options = {"hscore": {"precision": "float32"}, "reg_hscore": {"precision": "float64"},
               "transrate": {"precision": "float32", "eps": 1e-3}, "logme": {"precision": "float32"},
               "emms": {"precision": "float32", "ridge": 2.0}, "gbc": {"pca_dim": 5, "gaussian": "diagonal"},
               "nleep": {"covariance_type": "diag", "pca_variance": 0.6}}
    together = joint(list(options), features, labels, tables, probs, options)
    for name in options:
        assert_same(together[name], separate(name, features, labels, tables, probs, options), name)
    plain = joint(["hscore", "transrate"], features, labels, tables, probs, {})
    assert plain["hscore"] != together["hscore"] and plain["transrate"] != together["transrate"]


def test_the_registry_defaults_apply_first():
    features, labels, tables, probs = make_cell(**CELLS["n>d"])
    assert METRICS["gbc"].defaults == {"pca_dim": 64}
    assert joint(["gbc"], features, labels, tables, probs, {})["gbc"] == metrics.gbc(features, labels, pca_dim=64)
    assert joint(["gbc"], features, labels, tables, probs, {"gbc": {"pca_dim": 3}})["gbc"] == \
        metrics.gbc(features, labels, pca_dim=3)


def test_the_centred_gram_is_computed_once(monkeypatch):
    features, labels, tables, probs = make_cell(**CELLS["n>d"])
    n, d = features.shape
    products = []
    original = _gram.centred_cross

    def counting(x, **kwargs):
        if x.shape == (n, d):
            products.append(x)
        return original(x, **kwargs)

    monkeypatch.setattr(_gram, "centred_cross", counting)
    joint(["hscore", "reg_hscore", "transrate", "gbc", "nleep", "sfda"], features, labels, tables, probs)
    assert len(products) == 1
    products.clear()
    score_cell(features, labels, ["gbc", "sfda", "ncti", "etran"], zoo_components={})
    assert len(products) == 1   # SFDA's step-1 S_w, NCTI's PCA and ETran's S_cls from the one Gram
    products.clear()
    joint(["hscore", "logme"], features, labels, tables, probs)
    assert len(products) == 2   # LogME's float64 FᵀF is of the uncentred features (see metrics/logme.py)


def test_per_sample_flabels_emms_and_logme_regression():
    rng = np.random.default_rng(3)
    features, labels, tables, _ = make_cell(**CELLS["n>d"])
    per_sample = [table[labels] + 0.1 * rng.standard_normal((len(labels), table.shape[1])) for table in tables]
    targets = np.hstack(per_sample)
    got = score_cell(features, targets, ["logme", "emms"], flabels=per_sample,
                     options={"logme": {"regression": True}})
    assert_same(got["logme"], metrics.logme(features, targets, regression=True), "logme regression")
    assert_same(got["emms"], metrics.emms(features, per_sample), "emms per-sample")
    assert_same(score_cell(features, None, ["emms"], flabels=per_sample)["emms"], metrics.emms(features, per_sample),
                "emms per-sample, no labels")
    assert_same(score_cell(features, targets, ["logme"], options={"logme": {"regression": True}})["logme"],
                got["logme"], "logme alone")


def test_bad_names_and_options():
    features, labels, tables, probs = make_cell(**CELLS["n>d"])
    with pytest.raises(ValueError, match="unknown metric.*'nosuch'.*known: .*hscore"):
        score_cell(features, labels, ["hscore", "nosuch"])
    for name in ZOO:
        with pytest.raises(ValueError, match=f"{name}.*scored over a zoo"):
            score_cell(features, labels, ["hscore", name])
    with pytest.raises(ValueError, match="options given for metric.*'logme'"):
        score_cell(features, labels, ["hscore"], options={"logme": {"tol": 1e-3}})
    with pytest.raises(ValueError, match="emms needs flabels"):
        score_cell(features, labels, ["emms"])
    with pytest.raises(ValueError, match="leep needs source_probs"):
        score_cell(features, labels, ["leep"])
    with pytest.raises(ValueError, match="precision"):
        score_cell(features, labels, ["hscore"], options={"hscore": {"precision": "float16"}})


def test_errors_and_seconds_per_metric():
    """With ``errors={}`` a metric that raises fails only itself; ``seconds`` gets every metric's time."""
    features, labels, tables, probs = make_cell(**CELLS["n>d"])
    errors, seconds = {}, {}
    names = ["hscore", "emms", "leep", "transrate", "knn"]
    bad = {"transrate": {"eps": -1.0}, "emms": {"ridge": -1.0}}
    got = score_cell(features, labels, names, flabels=tables, options=bad, errors=errors, seconds=seconds)
    assert list(got) == ["hscore", "knn"] and set(errors) == {"emms", "leep", "transrate"}
    assert "source_probs" in str(errors["leep"]) and "eps" in str(errors["transrate"])
    assert "ridge" in str(errors["emms"])
    assert got["hscore"] == separate("hscore", features, labels, tables, probs)
    assert set(seconds) == set(names) and all(value >= 0 for value in seconds.values())
    with pytest.raises(ValueError, match="eps"):
        score_cell(features, labels, names, flabels=tables, source_probs=probs, options=bad)


def test_a_metrics_warning_is_emitted_as_by_its_separate_call():
    features, labels, tables, probs = make_cell(**CELLS["n<=d"])
    with pytest.warns(MetricWarning, match="EMMS with N=40"):
        score_cell(features, labels, ["hscore", "emms"], flabels=tables)


def test_each_metrics_warnings_can_be_caught_apart():
    features, labels, tables, probs = make_cell(**CELLS["n<=d"])
    caught = {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # nothing escapes
        score_cell(features, labels, ["hscore", "emms", "knn"], flabels=tables, caught=caught)
    assert set(caught) == {"hscore", "emms", "knn"} and not caught["hscore"] and not caught["knn"]
    assert [w.category for w in caught["emms"]] == [MetricWarning]
    assert "EMMS with N=40" in str(caught["emms"][0].message)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_callers_arrays_are_not_written(dtype):
    features, labels, tables, probs = make_cell(**CELLS["n>d"])
    features = features.astype(dtype)
    before = [features.copy(), labels.copy(), [t.copy() for t in tables], probs.copy()]
    joint(PER_CELL, features, labels, tables, probs)
    np.testing.assert_array_equal(features, before[0])
    np.testing.assert_array_equal(labels, before[1])
    for table, kept in zip(tables, before[2]):
        np.testing.assert_array_equal(table, kept)
    np.testing.assert_array_equal(probs, before[3])


def test_on_a_torch_device_every_metric_equals_its_separate_call_and_the_gram_is_made_once_there(monkeypatch):
    torch = pytest.importorskip("torch")
    device = torch.device("cpu")   # a torch device: the path "cuda" takes, testable without a GPU
    features, labels, tables, probs = make_cell(**CELLS["n>d"])
    n, d = features.shape
    devices = []
    original = _gram.centred_cross

    def recording(x, **kwargs):
        if x.shape == (n, d):
            devices.append(kwargs.get("device"))
        return original(x, **kwargs)

    monkeypatch.setattr(_gram, "centred_cross", recording)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetricWarning)
        got = score_cell(features, labels, PER_CELL, flabels=tables, source_probs=probs, device=device,
                         options=OPTIONS)
    assert devices == [device] * 3   # the centred Gram (every sharing metric), LogME's FᵀF and EMMS's own, there
    monkeypatch.setattr(_gram, "centred_cross", original)
    for name in PER_CELL:
        on_device = {"device": device} if METRICS[name].takes_device else {}
        expected = separate(name, features, labels, tables, probs, {name: {**OPTIONS.get(name, {}), **on_device}})
        assert got[name] == pytest.approx(expected, rel=1e-9, abs=1e-12), name


def test_nleep_releases_the_statistics_and_runs_after_the_other_sharing_metrics():
    """N-LEEP drops the cell's statistics (the N x D centred copy) once it has its PCA scores, so its mixture
    fit does not sit beside them, and score_cell runs it after every other metric that shares them (each value
    still its separate call's)."""
    features, labels, tables, probs = make_cell(**CELLS["n>d"])
    stats = CellStatistics(features, labels)
    value = sys.modules[METRICS["nleep"].function.__module__]._score_from(stats, **OPTIONS["nleep"])
    assert stats._cache == {} and value == separate("nleep", features, labels, tables, probs)

    names = ["nleep", "hscore", "emms", "sfda", "gbc"]
    seconds = {}
    got = score_cell(features, labels, names, flabels=tables, options={"nleep": OPTIONS["nleep"]}, seconds=seconds)
    assert list(seconds) == ["hscore", "sfda", "gbc", "nleep", "emms"] and list(got) == names
    for name in names:
        assert_same(got[name], separate(name, features, labels, tables, probs), name)
