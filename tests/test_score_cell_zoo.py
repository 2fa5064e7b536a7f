"""SFDA, NCTI and ETran from a cell's shared statistics (issue 26).

SFDA through score_cell equals its separate call (also in test_score_cell's every-metric test) and the values
it had before it shared anything (pinned); its step-1 within-class scatter from the centred Gram equals the direct
product; NCTI's and ETran's components of each model's score_cell, combined, equal ncti() / etran(); ETran's
row log-sum-exp equals scipy's; score_cell refuses the zoo metrics without ``zoo_components``.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.special import logsumexp

import metrics
from metrics import MetricWarning, _gram, _lda, score_cell
from metrics.cell import ZOO_SHARED, combine_zoo
from metrics.etran import energy_score, row_logsumexp
from metrics.etran import from_components as etran_from_components
from metrics.ncti import from_components as ncti_from_components
from metrics._stats import CellStatistics

from test_score_cell import CELLS, OPTIONS, PER_CELL, assert_same, joint, make_cell

ZOO = list(ZOO_SHARED)


def hard_cell(n, d, n_classes, separation, offset, seed, groups=0.0):
    """Dimensions spanning 1e3 in scale, an offset, and optionally 4 groups of classes ``groups`` apart."""
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % n_classes)
    centres, noise = separation * rng.standard_normal((n_classes, d)), rng.standard_normal((n, d))
    if groups:
        centres[:, :4] += groups * rng.standard_normal((4, 4))[np.arange(n_classes) % 4]
    features = (centres[labels] + noise) * np.geomspace(1, 1e-3, d) + offset
    return features.astype(np.float32), labels


# SFDA's values before it shared statistics (commit 70d7530: step 1 on the raw float64 copy, S_w by the direct
# product); the centred computation differs by rounding only (3.7e-11 on the offset case, whose raw value moves
# by as much when the features are shifted)
PINNED_SFDA = {"n>d": 0.5246953716053723, "n<=d": 1.0, "dead column": 0.5675054582977661,
               "unbalanced": 0.5179888063023779}
PINNED_HARD_SFDA = [((500, 30, 6, 0.3, 5.0, 1), 0.20802800708790636), ((500, 30, 6, 3.0, 0.0, 2), 0.9999995161770747),
                    ((50, 40, 5, 0.2, 1.0, 3), 0.43687215726497347)]


@pytest.fixture(params=["one block", "many blocks"])
def blocks(request, monkeypatch):
    if request.param == "many blocks":
        monkeypatch.setattr(_gram, "BLOCK_ROWS", 7)
    return request.param


def zoo_of(cell):
    """Three models' features of one cell's samples (one the first's reversed columns, scaled)."""
    features, labels, tables, probs = make_cell(**CELLS[cell])
    models = {"a": features, "b": make_cell(**CELLS[cell], seed=1)[0], "c": features[:, ::-1] * 1.5}
    return models, labels, tables, probs


@pytest.mark.parametrize("cell", list(CELLS))
def test_sfda_keeps_its_values(cell, blocks):
    features, labels, _, _ = make_cell(**CELLS[cell])
    assert metrics.sfda(features, labels) == pytest.approx(PINNED_SFDA[cell], rel=1e-10)


@pytest.mark.parametrize("args, expected", PINNED_HARD_SFDA)
def test_sfda_keeps_its_values_on_offset_and_well_separated_features(args, expected):
    features, labels = hard_cell(*args)
    assert metrics.sfda(features, labels) == pytest.approx(expected, rel=1e-10)
    assert score_cell(features, labels, ["hscore", "sfda", "gbc"])["sfda"] == metrics.sfda(features, labels)


@pytest.mark.parametrize("cell", list(CELLS))
def test_sfda_in_score_cell_equals_its_separate_call(cell, blocks):
    features, labels, tables, probs = make_cell(**CELLS[cell])
    expected = metrics.sfda(features, labels)
    assert_same(joint(["sfda"], features, labels, tables, probs)["sfda"], expected, "alone")
    for names in (PER_CELL, PER_CELL[::-1], ["gbc", "sfda", "hscore"]):
        assert_same(joint(names, features, labels, tables, probs)["sfda"], expected, f"with {names}")


@pytest.mark.parametrize("args", [(600, 40, 8, 0.5, 0.3, 0), (600, 40, 8, 5.0, 0.3, 1),
                                  (900, 24, 20, 0.2, 0.5, 2, 30.0)])
def test_within_class_scatter_from_the_gram_equals_the_direct_product(args):
    """Well-separated classes and groups of classes: S_w = (XcᵀXc - Σ_c N_c μ_c μ_cᵀ) / N agrees with
    Σ_i (Xc_i - μ_{y_i})ᵀ(Xc_i - μ_{y_i}) / N, and so do the posteriors, to 1e-10."""
    stats = CellStatistics(*hard_cell(*args))
    means = stats.centred_class_sums() / stats.counts[:, None]
    direct = _gram.within_class_cross(stats.centred, stats.classes, means)
    from_gram = stats.gram("features") - (means.T * stats.counts) @ means
    np.testing.assert_allclose(from_gram, direct, rtol=0, atol=1e-10 * np.abs(direct).max())
    shared, shrinkage = stats.lda_posterior()
    separate, separate_shrinkage = _lda.lda_posterior(stats.centred, stats.classes, stats.n_classes)
    np.testing.assert_allclose(shared, separate, rtol=0, atol=1e-10)
    assert shrinkage == pytest.approx(separate_shrinkage, rel=1e-10)


def test_step_one_takes_the_direct_product_where_the_gram_would_cancel(monkeypatch):
    """Groups of classes 1000 within-class deviations apart (total / within scatter ~1e6 in some dimension):
    the subtraction would lose ~1e-9; the direct product is taken instead (and not where it does not cancel)."""
    calls = []
    original = _lda.within_class_cross
    monkeypatch.setattr(_lda, "within_class_cross", lambda *a, **k: calls.append(1) or original(*a, **k))
    far = CellStatistics(*hard_cell(4000, 64, 20, 0.1, 0.5, 0, groups=1000.0))
    posterior, _ = far.lda_posterior()
    assert len(calls) == 1
    direct, _ = _lda.lda_posterior(np.asarray(far.centred), far.classes, far.n_classes)
    np.testing.assert_array_equal(posterior, direct)
    CellStatistics(*hard_cell(4000, 64, 20, 0.1, 0.5, 0, groups=10.0)).lda_posterior()
    assert len(calls) == 2   # the direct call above; none for the near groups


def zoo_from_cells(models, labels, names, tables, probs, options=OPTIONS):
    """{metric: {model: components}} from one score_cell a model, with the per-cell metrics ``names``."""
    found = {name: {} for name in ZOO}
    for model, features in models.items():
        components = {}
        kwargs = {name: value for name, value in options.items() if name in names + ZOO}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MetricWarning)
            scores = score_cell(features, labels, names + ZOO, flabels=tables, source_probs=probs, options=kwargs,
                                zoo_components=components)
        assert list(scores) == [name for name in names if name not in ZOO] and set(components) == set(ZOO)
        for name in ZOO:
            found[name][model] = components[name]
    return found


@pytest.mark.parametrize("cell", list(CELLS))
def test_zoo_metrics_from_score_cell_components_equal_their_zoo_call(cell, blocks):
    models, labels, tables, probs = zoo_of(cell)
    expected = {"ncti": metrics.ncti(models, labels), "etran": metrics.etran(models, labels)}
    for names in ([], ["gbc", "sfda"], PER_CELL):
        found = zoo_from_cells(models, labels, names, tables, probs)
        for name in ZOO:
            got = combine_zoo(name, found[name])
            assert list(got) == list(models)
            for model in models:
                assert_same(got[model], expected[name][model], f"{name} {model} with {names}, {cell}, {blocks}")
    assert ncti_from_components(found["ncti"]) == combine_zoo("ncti", found["ncti"])
    assert etran_from_components(found["etran"]) == combine_zoo("etran", found["etran"])


def test_etran_published_lda_through_score_cell():
    models, labels, tables, probs = zoo_of("n>d")
    options = {"etran": {"published_lda": True}}
    found = zoo_from_cells(models, labels, ["sfda"], tables, probs, options)
    got = combine_zoo("etran", found["etran"])
    expected = metrics.etran(models, labels, published_lda=True)
    assert got != combine_zoo("etran", zoo_from_cells(models, labels, ["sfda"], tables, probs)["etran"])
    for model in models:
        assert_same(got[model], expected[model], model)


def test_the_row_log_sum_exp_equals_scipys(blocks):
    rng = np.random.default_rng(4)
    x = np.vstack([rng.standard_normal((50, 300)) * 30 + 5, rng.standard_normal((9, 300)) - 700,
                   np.full((1, 300), 1e3)]).astype(np.float32)
    expected = logsumexp(x.astype(np.float64), axis=1)
    np.testing.assert_allclose(row_logsumexp(x), expected, rtol=1e-12, atol=0)
    count = max(1, 5 * len(x) // 1000)
    assert energy_score(x) == pytest.approx(np.sort(expected)[:count].mean(), rel=1e-12)


def test_the_same_components_as_the_single_model_functions():
    from metrics.etran import lda_score
    from metrics.ncti import collapse_components

    features, labels, tables, probs = make_cell(**CELLS["unbalanced"])
    components = {}
    score_cell(features, labels, ["sfda", "ncti", "etran"], zoo_components=components)
    assert components["ncti"] == collapse_components(features, labels, 6)
    assert components["etran"] == (energy_score(features), lda_score(features, labels, 6))


def test_zoo_metrics_need_the_keyword_and_two_models():
    features, labels, _, _ = make_cell(**CELLS["n>d"])
    for name in ZOO:
        with pytest.raises(ValueError, match=f"{name}.*scored over a zoo.*zoo_components=.*combine_zoo"):
            score_cell(features, labels, ["sfda", name])
        with pytest.raises(ValueError, match="at least 2 models, got 1"):
            combine_zoo(name, {"a": (1.0, 2.0)})
    with pytest.raises(ValueError, match="'sfda' is not a whole-zoo metric"):
        combine_zoo("sfda", {})


def test_a_failing_zoo_component_is_reported_per_metric():
    features, labels, _, _ = make_cell(**CELLS["n>d"])
    labels = labels.copy()
    labels[0] = 99   # a class of one sample
    errors, components = {}, {}
    score_cell(features, labels, ["hscore", "ncti", "etran"], errors=errors, zoo_components=components)
    assert set(errors) == {"ncti", "etran"} and not components and "at least 2 samples" in str(errors["ncti"])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_callers_arrays_are_not_written(dtype):
    models, labels, tables, probs = zoo_of("n>d")
    models = {name: x.astype(dtype) for name, x in models.items()}
    before = {name: x.copy() for name, x in models.items()}, labels.copy()
    metrics.ncti(models, labels), metrics.etran(models, labels), metrics.sfda(models["a"], labels)
    zoo_from_cells(models, labels, PER_CELL, tables, probs)
    for name, x in models.items():
        np.testing.assert_array_equal(x, before[0][name])
    np.testing.assert_array_equal(labels, before[1])
