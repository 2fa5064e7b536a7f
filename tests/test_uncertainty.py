"""pipeline.evaluate.uncertainty: bootstrap intervals of weighted τ, the random-ranking baseline, the consensus,
half-subsamples and pick stability, against scipy directly, brute force over all resamples or permutations, and
hand-computed values."""
import copy
import itertools
import math
import time
import warnings

import numpy as np
import pytest
from scipy import stats

from pipeline.evaluate import correlation
from pipeline.evaluate.uncertainty import (beats, bootstrap_mean_tau, bootstrap_tau, consensus, half_subsamples,
                                           pick_stability, random_ranking_tau, weighted_tau_rows)


def _wtau(x, y) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(stats.weightedtau(np.asarray(x, float), np.asarray(y, float)).statistic)


def _pair(n, noise, rng, names=None):
    """({model: score}, {model: truth}) of n models, scores = truth + noise."""
    names = names or [f"m{i:02d}" for i in range(n)]
    truth = rng.normal(size=n)
    scores = truth + noise * rng.normal(size=n)
    return dict(zip(names, scores.tolist())), dict(zip(names, truth.tolist()))


def _reference_draws(scores, truth, draws, seed):
    """τ* of every draw with scipy, one call per draw, on the index draws numpy's generator gives for `seed`
    (NaN for a draw left out: < 3 distinct models or a constant list)."""
    models = sorted(set(scores) & set(truth))
    s = np.array([scores[m] for m in models])
    t = np.array([truth[m] for m in models])
    index = np.random.default_rng(seed).integers(0, len(models), size=(draws, len(models)))
    out = []
    for row in index:
        if len(set(row.tolist())) < 3 or len(set(s[row])) == 1 or len(set(t[row])) == 1:
            out.append(math.nan)
        else:
            out.append(_wtau(s[row], t[row]))
    return np.array(out)


# --- weighted τ, vectorised -------------------------------------------------------------------------------------

def test_weighted_tau_rows_is_scipy_row_by_row_with_ties_and_constant_rows():
    rng = np.random.default_rng(3)
    for n in (3, 4, 7, 12):
        x = np.vstack([rng.normal(size=(20, n)), rng.integers(0, 3, size=(20, n)), np.ones((1, n))])
        y = np.vstack([rng.integers(0, 4, size=(20, n)), rng.normal(size=(20, n)), rng.normal(size=(1, n))])
        got = weighted_tau_rows(x, y)
        expected = np.array([_wtau(a, b) for a, b in zip(x, y)])
        assert np.array_equal(np.isnan(got), np.isnan(expected))
        assert np.isnan(got[-1])                        # constant scores: undefined
        np.testing.assert_allclose(got[~np.isnan(got)], expected[~np.isnan(expected)], rtol=0, atol=1e-13)


def test_weighted_tau_rows_in_blocks_equals_one_block(monkeypatch):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(50, 6)), rng.normal(size=(50, 6))
    whole = weighted_tau_rows(x, y)
    from pipeline.evaluate import uncertainty
    monkeypatch.setattr(uncertainty, "_MAX_ROW_CELLS", 7 * 36)   # blocks of 7 rows
    np.testing.assert_array_equal(weighted_tau_rows(x, y), whole)


# --- bootstrap_tau ----------------------------------------------------------------------------------------------

def test_bootstrap_point_is_the_headline_and_scipy():
    scores = {"c": 0.3, "a": 2.0, "b": 1.0, "d": -1.0, "e": 0.5}
    truth = {"a": 80.0, "b": 82.0, "c": 70.0, "d": 60.0, "e": 75.0, "f": 99.0}     # f has no score: left out
    result = bootstrap_tau(scores, truth)
    expected = _wtau([2.0, 1.0, 0.3, -1.0, 0.5], [80.0, 82.0, 70.0, 60.0, 75.0])
    assert result["point"] == pytest.approx(expected, abs=1e-15)
    assert result["point"] == correlation.correlate(scores, truth)["weighted_tau"]
    assert set(result) == {"point", "low", "high", "draws_used"}


def test_bootstrap_is_seeded_reproducible_and_the_draws_are_scipys():
    scores, truth = _pair(8, 1.0, np.random.default_rng(1))
    kept = copy.deepcopy((scores, truth))
    first = bootstrap_tau(scores, truth, draws=300, seed=5)
    assert bootstrap_tau(scores, truth, draws=300, seed=5) == first
    assert bootstrap_tau(scores, truth, draws=300, seed=6) != first
    assert (scores, truth) == kept                                       # inputs untouched
    draws = _reference_draws(scores, truth, 300, 5)
    used = draws[~np.isnan(draws)]
    assert first["draws_used"] == len(used)
    half = np.quantile(np.abs(used - first["point"]), 0.9)
    assert first["low"] == pytest.approx(max(-1, first["point"] - half), abs=1e-12)
    assert first["high"] == pytest.approx(min(1, first["point"] + half), abs=1e-12)


def test_bootstrap_of_three_models_keeps_only_permutations_so_the_interval_is_the_point():
    # Of the 27 resamples of 3 models, only the 6 permutations have 3 distinct models: each gives τ itself.
    scores, truth = {"a": 3.0, "b": 1.0, "c": 2.0}, {"a": 0.9, "b": 0.8, "c": 0.7}
    result = bootstrap_tau(scores, truth, draws=2000, seed=0)
    assert result["low"] == pytest.approx(result["point"], abs=1e-12)
    assert result["high"] == pytest.approx(result["point"], abs=1e-12)
    assert abs(result["draws_used"] - 2000 * 6 / 27) < 4 * math.sqrt(2000 * 6 / 27 * 21 / 27)


def test_bootstrap_matches_the_exact_distribution_over_all_resamples_of_four_models():
    scores = {"a": 4.0, "b": 2.0, "c": 3.0, "d": 1.0}
    truth = {"a": 0.70, "b": 0.72, "c": 0.50, "d": 0.40}
    s, t = np.array([4.0, 2.0, 3.0, 1.0]), np.array([0.70, 0.72, 0.50, 0.40])
    point = _wtau(s, t)
    deviations = []
    for row in itertools.product(range(4), repeat=4):        # all 256 equally likely resamples
        row = list(row)
        if len(set(row)) >= 3:                                 # (no list here is constant on >= 3 models)
            deviations.append(abs(_wtau(s[row], t[row]) - point))
    deviations = np.sort(deviations)
    valid_share = len(deviations) / 256                        # 204 / 256: 24 permutations, 144 with 3 distinct
    assert len(deviations) == 24 + 4 * 6 * 3 * 2               # 3 distinct: which absent x which doubled x places
    cdf = np.arange(1, len(deviations) + 1) / len(deviations)
    exact_half = deviations[np.searchsorted(cdf, 0.9)]         # 90% quantile of |τ* - τ| (a step of its CDF)
    below = np.mean(deviations < exact_half - 1e-12)
    at_or_below = np.mean(deviations <= exact_half + 1e-12)
    assert below < 0.88 and at_or_below > 0.92                 # 0.9 is well inside the step: no sampling doubt
    result = bootstrap_tau(scores, truth, draws=20000, seed=1)
    assert result["point"] == pytest.approx(point, abs=1e-15)
    assert result["low"] == pytest.approx(max(-1, point - exact_half), abs=1e-12)
    assert result["high"] == pytest.approx(min(1, point + exact_half), abs=1e-12)
    assert abs(result["draws_used"] / 20000 - valid_share) < 4 * math.sqrt(valid_share * (1 - valid_share) / 20000)


def test_bootstrap_interval_covers_the_point_where_the_percentile_interval_does_not():
    # One best model, five tied in the truth: duplicates remove tied-in-truth pairs from the score-side sum only,
    # so almost every τ* is below τ (module docstring).
    truth = dict(zip("abcdef", [0.0, 0, 0, 0, 0, 4]))
    scores = dict(zip("abcdef", [4.0, 1, 2, 3, 5, 0]))
    result = bootstrap_tau(scores, truth, seed=0)
    draws = _reference_draws(scores, truth, 1000, 0)
    used = draws[~np.isnan(draws)]
    percentile = np.quantile(used, [0.05, 0.95])
    assert result["point"] == pytest.approx(-0.6150133395364916, abs=1e-12)
    assert np.mean(used < result["point"] - 1e-12) > 0.95
    assert not percentile[0] <= result["point"] <= percentile[1]   # the plain percentile interval misses τ
    half = np.quantile(np.abs(used - result["point"]), 0.9)          # the symmetric interval does
    assert result["low"] == pytest.approx(result["point"] - half, abs=1e-12)
    assert result["high"] == pytest.approx(result["point"] + half, abs=1e-12)
    assert result["low"] < result["point"] < result["high"]


def test_bootstrap_interval_covers_the_point_on_many_tables():
    rng = np.random.default_rng(7)
    for k in range(60):
        n = int(rng.integers(4, 16))
        scores, truth = _pair(n, float(rng.uniform(0.1, 3)), rng)
        if k % 3 == 0:      # ties, as saturating metrics and rounded accuracies make them
            scores = {m: round(v) for m, v in scores.items()}
            truth = {m: round(v, 1) for m, v in truth.items()}
        result = bootstrap_tau(scores, truth, draws=200, seed=k)
        if math.isnan(result["point"]):
            continue
        assert -1 <= result["low"] <= result["point"] <= result["high"] <= 1


def test_bootstrap_interval_narrows_with_more_candidates():
    rng = np.random.default_rng(11)
    widths = {}
    for n in (6, 15, 40):
        runs = [bootstrap_tau(*_pair(n, 1.0, rng), draws=300, seed=k) for k in range(25)]
        widths[n] = np.mean([r["high"] - r["low"] for r in runs])
    assert widths[6] > widths[15] > widths[40]
    assert widths[40] < 0.6 * widths[6]


def test_bootstrap_undefined_and_too_few():
    result = bootstrap_tau({"a": 1.0, "b": 2.0, "c": 3.0}, {"a": 5.0, "b": 5.0, "c": 5.0})
    assert math.isnan(result["point"]) and math.isnan(result["low"]) and math.isnan(result["high"])
    assert result["draws_used"] == 0
    with pytest.raises(ValueError, match="at least 3 models"):
        bootstrap_tau({"a": 1.0, "b": 2.0}, {"a": 1.0, "b": 2.0, "c": 3.0})
    with pytest.raises(ValueError, match="draws"):
        bootstrap_tau({"a": 1.0, "b": 2.0, "c": 3.0}, {"a": 1.0, "b": 2.0, "c": 3.0}, draws=0)
    with pytest.raises(ValueError, match="level"):
        bootstrap_tau({"a": 1.0, "b": 2.0, "c": 3.0}, {"a": 1.0, "b": 2.0, "c": 3.0}, level=90)


def test_bootstrap_of_1000_draws_over_ten_models_is_fast():
    scores, truth = _pair(10, 1.0, np.random.default_rng(0))
    bootstrap_tau(scores, truth)
    started = time.perf_counter()
    bootstrap_tau(scores, truth, draws=1000)
    assert time.perf_counter() - started < 0.25          # measured 0.013 s; scipy once per draw: 0.3 s


# --- bootstrap_mean_tau -----------------------------------------------------------------------------------------

def test_mean_point_is_the_mean_of_the_headlines_and_undefined_datasets_are_left_out():
    rng = np.random.default_rng(2)
    per_dataset = {"b": _pair(7, 1.0, rng), "a": _pair(9, 0.5, rng),
                   "flat": ({"x": 1.0, "y": 2.0, "z": 3.0}, {"x": 1.0, "y": 1.0, "z": 1.0}),   # τ undefined
                   "two": ({"x": 1.0, "y": 2.0}, {"x": 1.0, "y": 2.0})}                         # < 3 models
    result = bootstrap_mean_tau(per_dataset, draws=200)
    expected = np.mean([correlation.correlate(*per_dataset[d])["weighted_tau"] for d in ("a", "b")])
    assert result["point"] == pytest.approx(expected, abs=1e-15)
    assert result["datasets"] == ["a", "b"]
    assert result["draws_used"] == 200
    assert result["low"] < result["point"] < result["high"]
    reordered = {d: per_dataset[d] for d in ("two", "a", "flat", "b")}
    assert bootstrap_mean_tau(reordered, draws=200) == result          # not the mapping's order


def test_mean_redraws_undefined_resamples_three_model_datasets_give_the_point():
    # Every defined resample of 3 models is a permutation (τ* = τ), so the mean of two such datasets never moves;
    # without redrawing only ~(6/27)^2 of the draws would have both defined.
    per_dataset = {"x": ({"a": 3.0, "b": 1.0, "c": 2.0}, {"a": 0.9, "b": 0.8, "c": 0.7}),
                   "y": ({"a": 1.0, "b": 2.0, "c": 3.0}, {"a": 0.1, "b": 0.3, "c": 0.2})}
    result = bootstrap_mean_tau(per_dataset, draws=500, seed=3)
    point = (_wtau([3, 1, 2], [0.9, 0.8, 0.7]) + _wtau([1, 2, 3], [0.1, 0.3, 0.2])) / 2
    assert result["point"] == pytest.approx(point, abs=1e-15)
    assert result["low"] == pytest.approx(point, abs=1e-12) and result["high"] == pytest.approx(point, abs=1e-12)
    assert result["draws_used"] == 500


def test_mean_draws_are_per_dataset_streams_averaged():
    # A 3-model dataset adds a constant τ to every draw: the half-width over two datasets is half of dataset a's
    # alone, which holds only if dataset a gets the same resamples with and without the other dataset.
    a = _pair(10, 1.0, np.random.default_rng(4))
    fixed = ({"p": 3.0, "q": 1.0, "r": 2.0}, {"p": 0.9, "q": 0.8, "r": 0.7})
    alone = bootstrap_mean_tau({"a": a}, draws=400, seed=9)
    both = bootstrap_mean_tau({"a": a, "z": fixed}, draws=400, seed=9)
    assert alone["point"] == pytest.approx(correlation.correlate(*a)["weighted_tau"], abs=1e-15)
    assert -1 < alone["low"] and alone["high"] < 1                       # no clipping in this case
    assert (both["high"] - both["low"]) == pytest.approx((alone["high"] - alone["low"]) / 2, abs=1e-12)
    assert both["point"] == pytest.approx((alone["point"] + _wtau([3, 1, 2], [0.9, 0.8, 0.7])) / 2, abs=1e-15)
    assert bootstrap_mean_tau({"a": a}, draws=400, seed=10) != alone


def test_mean_with_no_defined_dataset_is_nan():
    result = bootstrap_mean_tau({"flat": ({"x": 1.0, "y": 2.0, "z": 3.0}, {"x": 0.0, "y": 0.0, "z": 0.0})})
    assert math.isnan(result["point"]) and math.isnan(result["low"]) and result["datasets"] == []


# --- random_ranking_tau -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("values", [[0.5, 0.9, 0.7, 0.6], [0.0, 0, 0, 0, 0, 4], [1, 1, 2, 2, 3, 7, 4]])
def test_random_ranking_is_exact_over_all_permutations(values):
    truth = dict(zip("gfedcba", values))
    t = [truth[m] for m in sorted(truth)]
    taus = np.array([_wtau(perm, t) for perm in itertools.permutations(range(len(t)))])
    result = random_ranking_tau(truth)
    assert result["exact"] is True and result["draws"] == math.factorial(len(t)) and result["models"] == len(t)
    assert result["mean"] == pytest.approx(taus.mean(), abs=1e-13)
    assert result["sd"] == pytest.approx(taus.std(), abs=1e-13)
    assert result["low"] == pytest.approx(np.quantile(taus, 0.05), abs=1e-13)
    assert result["high"] == pytest.approx(np.quantile(taus, 0.95), abs=1e-13)


def test_random_ranking_of_an_untied_truth_has_mean_zero_and_a_tied_one_not():
    assert random_ranking_tau(dict(zip("abcde", [5.0, 3, 1, 2, 4])))["mean"] == pytest.approx(0, abs=1e-12)
    assert random_ranking_tau(dict(zip("abcdef", [0.0, 0, 0, 0, 0, 4])))["mean"] == pytest.approx(
        -0.042174747282786, abs=1e-12)


def test_random_ranking_of_many_models_is_sampled_and_seeded():
    truth = dict(zip([f"m{i}" for i in range(12)], np.random.default_rng(0).normal(size=12).tolist()))
    result = random_ranking_tau(truth, draws=1000, seed=1)
    assert result["exact"] is False and result["draws"] == 1000
    assert random_ranking_tau(truth, draws=1000, seed=1) == result
    assert random_ranking_tau(truth, draws=1000, seed=2) != result
    t = [truth[m] for m in sorted(truth)]
    rng = np.random.default_rng(123)                       # an independent sample, with scipy
    reference = np.array([_wtau(rng.permutation(12), t) for _ in range(2000)])
    assert abs(result["mean"] - reference.mean()) < 4 * reference.std() * math.sqrt(1 / 1000 + 1 / 2000)
    assert result["sd"] == pytest.approx(reference.std(), rel=0.1)
    assert result["low"] < result["mean"] < result["high"]


def test_random_ranking_undefined_and_too_few():
    result = random_ranking_tau({"a": 1.0, "b": 1.0, "c": 1.0})
    assert math.isnan(result["mean"]) and math.isnan(result["sd"]) and result["exact"] is True
    with pytest.raises(ValueError, match="at least 3"):
        random_ranking_tau({"a": 1.0, "b": 2.0})


# --- consensus --------------------------------------------------------------------------------------------------

def test_consensus_of_identical_metrics_is_that_ranking():
    scores, truth = _pair(9, 1.0, np.random.default_rng(5))
    result = consensus({"m1": scores, "m2": dict(scores), "m3": dict(scores)})
    assert [m for m, _ in correlation.ranking(result)] == [m for m, _ in correlation.ranking(scores)]
    order = sorted(scores, key=scores.get)                   # worst first: normalised ranks 0, 1/8, ..., 1
    assert [result[m] for m in order] == pytest.approx([k / 8 for k in range(9)], abs=1e-15)
    assert correlation.correlate(result, truth)["weighted_tau"] == pytest.approx(
        correlation.correlate(scores, truth)["weighted_tau"], abs=1e-15)


def test_consensus_hand_computed_with_ties_subsets_and_metrics_left_out():
    by_metric = {
        "A": {"a": 3.0, "b": 2.0, "c": 1.0},                   # a 1, b 1/2, c 0
        "B": {"a": 1.0, "b": 1.0 + 1e-12, "c": 0.0},           # a, b tied (snapped): average rank 2.5 -> 3/4
        "C": {"b": 5.0, "c": 6.0},                             # a subset: b 0, c 1
        "flat": {"a": 2.0, "b": 2.0, "c": 2.0},                # no ranking: left out
        "one": {"d": 7.0},                                     # one model: no ranking, so d is absent
    }
    kept = copy.deepcopy(by_metric)
    result = consensus(by_metric)
    assert list(result) == ["a", "b", "c"]
    assert result["a"] == pytest.approx((1 + 0.75) / 2, abs=1e-15)
    assert result["b"] == pytest.approx((0.5 + 0.75 + 0) / 3, abs=1e-15)
    assert result["c"] == pytest.approx((0 + 0 + 1) / 3, abs=1e-15)
    assert by_metric == kept
    assert consensus({}) == {} and consensus({"flat": {"a": 1.0, "b": 1.0}}) == {}


def test_consensus_rejects_a_non_finite_score():
    with pytest.raises(ValueError, match="'B'.*'y'"):
        consensus({"A": {"x": 1.0, "y": 2.0}, "B": {"x": 1.0, "y": math.nan}})


# --- half_subsamples and pick_stability ------------------------------------------------------------------------

def test_half_subsamples_are_stratified_sorted_and_reproducible():
    labels = np.array([2, 0, 0, 1, 0, 5, 0, 2, 0, 2, 2, 1])     # class sizes 0:5, 1:2, 2:4, 5:1
    kept = labels.copy()
    subsets = half_subsamples(labels, draws=30, seed=4)
    assert len(subsets) == 30
    for subset in subsets:
        assert subset.dtype == np.intp and np.all(np.diff(subset) > 0)
        counts = {c: int(np.sum(labels[subset] == c)) for c in (0, 1, 2, 5)}
        assert counts == {0: 3, 1: 1, 2: 2, 5: 1}                # ceil(n_c / 2), at least 1
    assert all(np.array_equal(a, b) for a, b in zip(subsets, half_subsamples(labels, draws=30, seed=4)))
    assert not all(np.array_equal(a, b) for a, b in zip(subsets, half_subsamples(labels, draws=30, seed=5)))
    assert np.array_equal(labels, kept)


def test_half_subsamples_draw_each_sample_of_a_class_equally_often():
    labels = np.array([0] * 5 + [1] * 4)
    inclusion = np.zeros(9)
    for subset in half_subsamples(labels, draws=3000, seed=0):
        inclusion[subset] += 1
    inclusion /= 3000
    np.testing.assert_allclose(inclusion[:5], 3 / 5, atol=0.04)
    np.testing.assert_allclose(inclusion[5:], 2 / 4, atol=0.04)


def test_half_subsamples_of_n_samples():
    subsets = half_subsamples(7, draws=200, seed=1)
    assert all(len(s) == 4 and s.min() >= 0 and s.max() <= 6 and len(set(s.tolist())) == 4 for s in subsets)
    assert set(np.concatenate(subsets).tolist()) == set(range(7))
    assert [len(s) for s in half_subsamples(1)] == [1] * 20
    with pytest.raises(ValueError, match="at least 1"):
        half_subsamples(0)
    with pytest.raises(ValueError, match="integer class labels"):
        half_subsamples(np.array([0.5, 1.5]))


def test_pick_stability_counts_subsamples_with_the_full_data_pick():
    full = {"a": 1.0, "b": 3.0, "c": 2.0}                                  # picks b
    subsamples = [{"a": 1.0, "b": 3.0, "c": 2.0}, {"a": 4.0, "b": 3.0, "c": 2.0},
                  {"b": 2.0, "c": 2.0 * (1 + 1e-12)},                      # snapped tie: name order picks b
                  {"a": 3.0, "b": 3.0, "c": 0.0}]                          # tie: a
    assert pick_stability(full, subsamples) == pytest.approx(2 / 4)
    assert pick_stability(full, subsamples[:1]) == 1.0
    with pytest.raises(ValueError, match="no subsample"):
        pick_stability(full, [])
    with pytest.raises(ValueError, match="subsample 1"):
        pick_stability(full, [full, {"a": math.nan}])


# --- beats ------------------------------------------------------------------------------------------------------

def test_beats_rule():
    metric = {"point": 0.6, "low": 0.35, "high": 0.85}
    assert beats(metric, {"point": 0.3, "low": 0.0, "high": 0.6}) is True
    assert beats(metric, {"point": 0.3, "low": 0.0, "high": 0.6}, clearly=True) is True      # 0.35 > 0.3
    assert beats(metric, {"point": 0.4}, clearly=True) is False and beats(metric, {"point": 0.4}) is True
    assert beats(metric, {"point": 0.6}) is False                                            # equal: not above
    random_baseline = {"mean": 0.0, "sd": 0.3, "low": -0.5, "high": 0.55}
    assert beats(metric, random_baseline) is True                 # above the random rankings' 95th percentile
    assert beats(metric, random_baseline, clearly=True) is False
    assert beats({"point": 0.5, "low": 0.3}, random_baseline) is False    # above the mean only is not enough
    assert beats({"point": math.nan, "low": math.nan}, {"point": 0.1}) is None
    assert beats(metric, {"point": math.nan}) is None


def test_random_mean_tau_is_the_spread_of_a_mean_of_independent_rankings():
    from pipeline.evaluate.uncertainty import random_mean_tau

    truths = [dict(zip("abcdef", rng.permutation(6).astype(float))) for rng in map(np.random.default_rng, range(3))]
    result = random_mean_tau(truths, draws=4000)
    assert result == random_mean_tau(truths, draws=4000)                       # seeded
    one = [random_ranking_tau(t) for t in truths]                                # exact per dataset (6! rankings)
    assert result["mean"] == pytest.approx(np.mean([r["mean"] for r in one]), abs=0.01)
    # brute force: the sd of a mean of 3 independent τ is sqrt(sum sd_k^2) / 3, narrower than each dataset's
    sd = np.sqrt(sum(r["sd"] ** 2 for r in one)) / 3
    assert result["high"] - result["low"] == pytest.approx(2 * 1.645 * sd, rel=0.1)
    assert result["high"] < np.mean([r["high"] for r in one]) - 0.1
    with pytest.raises(ValueError, match="no ground truth"):
        random_mean_tau([])
