"""pipeline.evaluate.correlation and pipeline.evaluate.ground_truth: published reference values and cases with known answers."""
import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

from pipeline.evaluate.correlation import agreement, correlate, ranking, relative_best
from pipeline.evaluate.ground_truth import available_zoos, load_ground_truth, validate

DATA = Path(__file__).parent / "data"
# model_spider_scores.csv names datasets as the Model Spider paper does; logme_zoo.json in lower case.
CSV_TO_ZOO = {"Aircraft": "aircraft", "CIFAR10": "cifar10", "CIFAR100": "cifar100", "Caltech101": "caltech101",
              "Cars": "cars", "DTD": "dtd", "Pet": "pets", "SUN397": "sun397"}
EXPECTED_KEYS = {"weightedtau_score_gt": "weighted_tau", "weightedtau_gt_ranked": "weighted_tau_truth_ranked",
                 "kendalltau": "kendall_tau"}


def _model_spider_scores():
    scores = {}  # {metric: {dataset: {model: score}}}
    with open(DATA / "model_spider_scores.csv") as handle:
        for row in csv.DictReader(handle):
            dataset, model = CSV_TO_ZOO[row.pop("Dataset")], row.pop("Model")
            for metric, value in row.items():
                scores.setdefault(metric, {}).setdefault(dataset, {})[model] = float(value)
    return scores


def test_reproduces_model_spider_reference_values():
    truth = load_ground_truth("logme_zoo")
    scores = _model_spider_scores()
    expected = json.loads((DATA / "model_spider_expected.json").read_text())["expected"]
    checked = 0
    for metric, per_dataset in expected.items():
        for dataset, values in per_dataset.items():
            got = correlate(scores[metric][dataset], truth.for_dataset(dataset))
            for their_key, our_key in EXPECTED_KEYS.items():
                assert got[our_key] == pytest.approx(values[their_key], abs=1e-4), (metric, dataset, our_key)
                checked += 1
    assert checked == 9 * 8 * 3


def test_result_does_not_depend_on_dict_order():
    truth = {"a": 70.0, "b": 60.0, "c": 65.0, "d": 50.0, "e": 55.0}
    scores = {"e": 0.3, "a": 0.9, "d": 0.1, "c": 0.5, "b": 0.7, "extra": 5.0}
    reordered = dict(reversed(list(scores.items())))
    assert correlate(scores, truth) == correlate(reordered, dict(reversed(list(truth.items()))))


def test_perfect_and_reversed_rankings():
    truth = {f"m{i}": float(10 * i) for i in range(1, 6)}
    perfect = correlate({m: v / 100 + 1 for m, v in truth.items()}, truth)
    for key in ("weighted_tau", "weighted_tau_truth_ranked", "kendall_tau", "pearson", "rel1", "rel3"):
        assert perfect[key] == pytest.approx(1.0)
    reversed_ = correlate({m: -v for m, v in truth.items()}, truth)
    assert reversed_["weighted_tau"] == pytest.approx(-1.0)
    assert reversed_["kendall_tau"] == pytest.approx(-1.0)
    assert reversed_["rel1"] == pytest.approx(10 / 50)   # the top pick is the worst model
    assert reversed_["rel3"] == pytest.approx(30 / 50)


def test_kendall_matches_brute_force_pair_count():
    rng = np.random.default_rng(0)
    models = [f"m{i}" for i in range(7)]
    s, t = rng.normal(size=7), rng.normal(size=7)
    pairs = [(i, j) for i in range(7) for j in range(i + 1, 7)]
    brute = sum(np.sign(s[i] - s[j]) * np.sign(t[i] - t[j]) for i, j in pairs) / len(pairs)
    got = correlate(dict(zip(models, s)), dict(zip(models, t)))
    assert got["kendall_tau"] == pytest.approx(brute)
    assert got["pearson"] == pytest.approx(np.corrcoef(s, t)[0, 1])


def test_rel_at_k_and_non_positive_truth():
    s, t = np.array([3.0, 2.0, 1.0, 0.0]), np.array([80.0, 90.0, 100.0, 50.0])
    assert relative_best(s, t, 1) == pytest.approx(0.8)
    assert relative_best(s, t, 3) == pytest.approx(1.0)
    assert math.isnan(relative_best(s, -t, 1))


def test_too_few_models_is_a_clear_error():
    with pytest.raises(ValueError, match="at least 3 models"):
        correlate({"a": 1.0, "b": 2.0, "c": 3.0}, {"a": 1.0, "b": 2.0, "z": 3.0})


def test_constant_scores_give_nan_not_a_warning_storm():
    got = correlate({"a": 1.0, "b": 1.0, "c": 1.0}, {"a": 1.0, "b": 2.0, "c": 3.0})
    assert math.isnan(got["kendall_tau"]) and math.isnan(got["pearson"])


def test_agreement_and_ranking():
    a = {"x": 3.0, "y": 2.0, "z": 1.0, "w": 0.0}
    table = agreement({"a": a, "same": {m: 2 * v for m, v in a.items()}, "rev": {m: -v for m, v in a.items()},
                       "two": {"x": 1.0, "y": 2.0}})
    assert table["a"]["same"] == pytest.approx(1.0) and table["a"]["rev"] == pytest.approx(-1.0)
    assert table["rev"]["a"] == table["a"]["rev"] and math.isnan(table["a"]["two"])
    assert [m for m, _ in ranking(a)] == ["x", "y", "z", "w"]


def test_ground_truth_loads_shipped_zoos_and_user_files(tmp_path):
    assert {"cnn_supervised", "logme_zoo", "caption", "vit"} <= set(available_zoos())
    gt = load_ground_truth("cnn_supervised")
    assert gt.for_dataset("cifar10")["resnet50"] > 90 and gt.for_dataset("CIFAR10") is not None
    assert load_ground_truth("a_zoo_without_results") is None
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"zoo": "mine", "finetune": {"flowers": {"a": 1, "b": 2}}}))
    assert load_ground_truth(str(path)).finetune == {"flowers": {"a": 1.0, "b": 2.0}}


@pytest.mark.parametrize("data, message", [
    ([], "top level must be a JSON object"),
    ({"zoo": "z"}, "no 'finetune' key"),
    ({"finetune": {"d": [1, 2]}}, r"finetune\['d'\] must be a non-empty object"),
    ({"finetune": {"d": {"m": "high"}}}, r"finetune\['d'\]\['m'\] must be a finite number"),
    ({"finetune": {"d": {"m": float("nan")}}}, "must be a finite number"),
])
def test_ground_truth_format_errors(data, message):
    with pytest.raises(ValueError, match=message):
        validate(data, "mine.json")


def test_ground_truth_missing_or_broken_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_ground_truth(str(tmp_path / "nope.json"))
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_ground_truth(str(broken))


def test_scores_equal_to_rounding_are_ties_whatever_their_last_bits():
    """H-score saturating at C-1 on three models: their order must not depend on the BLAS thread count."""
    from pipeline.evaluate.correlation import TIE_RTOL, correlate, ranking, snap_ties

    truth = {"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0}
    one = {"a": 9.0, "b": 8.999999999999998, "c": 9.000000000000002, "d": 1.0}
    two = {"a": 9.000000000000002, "b": 9.0, "c": 8.999999999999998, "d": 1.0}
    assert correlate(one, truth) == correlate(two, truth)
    assert correlate(one, truth)["kendall_tau"] == pytest.approx(-3 / 18 ** 0.5)  # tau-b: 3 discordant, 3 tied of 6
    assert [m for m, _ in ranking(one)] == ["a", "b", "c", "d"] == [m for m, _ in ranking(two)]
    assert TIE_RTOL == 1e-9
    assert snap_ties([1.0, 1.0 + 1e-6]).tolist() == [1.0, 1.0 + 1e-6]   # a real difference is not a tie
    assert snap_ties([2.0, 2.0 + 1e-10, 5.0]).tolist() == [2.0, 2.0, 5.0]


def test_rounding_noise_around_zero_is_a_tie():
    """EMMS's exact fit at N <= D: 0, -0.0 and -3.6e-16 are one score, though no relative tolerance joins them."""
    from pipeline.evaluate.correlation import TIE_ATOL, all_tied, snap_ties

    assert TIE_ATOL == 1e-12
    assert all_tied({"a": 0.0, "b": -0.0, "c": -3.552713678800501e-16})
    assert snap_ties([0.0, -3.6e-16, 1e-11]).tolist() == [-3.6e-16, -3.6e-16, 1e-11]   # 1e-11 apart is not a tie
