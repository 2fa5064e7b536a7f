"""How sure is the pick (issue 27), through stage 3: the baselines beside every metric, bootstrap intervals in the
tables, a consensus, the stability of a pick without a ground truth, and scores made elsewhere (--scores)."""
import json

import numpy as np
import pytest
from scipy import stats

import evaluate_metric_cls
from pipeline import tasks
from pipeline.store import Store

TRUTH = {"m1": 61.0, "m2": 70.5, "m3": 66.0, "m4": 80.0, "m5": 75.5, "m6": 58.0}
SCORES = {  # metric -> model -> score, made up; "source_accuracy" and "params" are read as the baselines
    "alpha": {"m1": 0.1, "m2": 0.7, "m3": 0.4, "m4": 0.9, "m5": 0.8, "m6": 0.2},
    "beta": {"m1": 3.0, "m2": 1.0, "m3": 2.0, "m4": 6.0, "m5": 4.0, "m6": 5.0},
    "source_accuracy": {"m1": 70.1, "m2": 74.0, "m3": 73.2, "m4": 76.9, "m5": 71.5, "m6": 69.0},
    "params": {"m1": 5e6, "m2": 25e6, "m3": 11e6, "m4": 60e6, "m5": 44e6, "m6": 3e6},
}


def write_scores(tmp_path):
    table = tmp_path / "published.csv"
    table.write_text("dataset,model,metric,score\n" + "".join(
        f"pets,{model},{metric},{score}\n" for metric, scores in SCORES.items() for model, score in scores.items()))
    truth = tmp_path / "truth.json"
    truth.write_text(json.dumps({"zoo": "mine", "finetune": {"pets": TRUTH}}))
    return table, truth


def normalised_ranks(scores):
    ordered = sorted(scores, key=scores.get)
    return {model: rank / (len(ordered) - 1) for rank, model in enumerate(ordered)}


def test_scores_made_elsewhere_give_the_tau_of_scipy_for_metrics_baselines_and_consensus(tmp_path, capsys):
    table, truth = write_scores(tmp_path)
    results = tmp_path / "results"
    assert evaluate_metric_cls.main(["--scores", str(table), "--ground-truth", str(truth), "--zoo", "mine",
                                     "--results", str(results)]) == 0
    store = Store(results)
    (row,) = [r for r in json.loads(store.table_path("mine/classification_summary.json").read_text())["rows"]
              if r["dataset"] == "pets"]
    models = sorted(TRUTH)
    for name, scores in SCORES.items():
        expected = stats.weightedtau([scores[m] for m in models], [TRUTH[m] for m in models])[0]
        assert row[name] == pytest.approx(expected, abs=1e-12), name
    ranks = [normalised_ranks(SCORES[name]) for name in ("alpha", "beta")]   # the metrics', not the baselines'
    consensus = {m: round((ranks[0][m] + ranks[1][m]) / 2, 12) for m in models}   # m2 and m3 tie at 0.3
    assert row["consensus"] == pytest.approx(stats.weightedtau([consensus[m] for m in models],
                                                               [TRUTH[m] for m in models])[0], abs=1e-12)
    intervals = json.loads(store.table_path("mine/classification_intervals.json").read_text())["rows"][0]
    for name in [*SCORES, "consensus"]:
        assert intervals[name]["low"] <= row[name] <= intervals[name]["high"], name
    assert intervals["random"]["low"] < 0 < intervals["random"]["high"]
    out = capsys.readouterr().out
    assert "does each metric beat the baselines?" in out and "| alpha " in out


def test_baselines_come_from_the_weights_metadata_offline():
    classification = tasks.get("classification")
    resnet = classification.baselines({"model": "resnet50", "network": "resnet50", "pretrained": True})
    from torchvision.models import ResNet50_Weights

    meta = ResNet50_Weights.IMAGENET1K_V1.meta
    assert resnet == {"source_accuracy": meta["_metrics"]["ImageNet-1K"]["acc@1"], "params": meta["num_params"]}
    assert resnet["source_accuracy"] == pytest.approx(76.13)
    last = classification.baselines({"model": "efficientnet_lite0_last", "network": "efficientnet_lite0"})
    early = classification.baselines({"model": "efficientnet_lite0_early", "network": "efficientnet_lite0"})
    assert last["source_accuracy"] == 75.1 and "source_accuracy" not in early   # a truncation has none published
    assert 0 < early["params"] < last["params"]
    assert classification.baselines({"model": "resnet50", "network": "resnet50", "pretrained": False}) == {}
    assert classification.baselines({"model": "deit_tiny", "network": "deit_tiny"}) == {}   # timm: not known
    assert tasks.get("tqa").baselines({"model": "bert-base-uncased"}) == {}


def three_models(tmp_path, dataset: str, *, n: int, dim: int, seed: int) -> Store:
    """A store with the features of three models on 4 classes, class signal strong > good > noise (none)."""
    rng = np.random.default_rng(seed)
    store = Store(tmp_path / "results")
    labels = np.arange(n) % 4
    centres = rng.normal(size=(4, dim))
    for model, signal in (("strong", 3.0), ("good", 1.5), ("noise", 0.0)):
        store.save_features(dataset, model, signal * centres[labels] + rng.normal(size=(n, dim)), labels, {})
    return store


def test_without_a_ground_truth_the_consensus_comes_first_and_each_pick_has_its_stability(tmp_path, capsys):
    store = three_models(tmp_path, "mine", n=120, dim=8, seed=0)
    argv = ["--results", str(store.root), "--datasets", "mine", "--metrics", "logme,knn,hscore",
            "--stability-draws", "6"]
    assert evaluate_metric_cls.main(argv) == 0
    ranking = store.table_path("cnn_supervised/classification_mine_ranking.csv").read_text().splitlines()
    assert ranking[0] == "rank,consensus,logme,knn,hscore" and ranking[1].split(",")[1].startswith("strong")
    stability = json.loads(store.table_path("cnn_supervised/classification_mine_stability.json").read_text())
    shares = {row["metric"]: row["same pick"] for row in stability["rows"]}
    assert set(shares) == {"consensus", "logme", "knn", "hscore"} and shares["consensus"] == 1.0
    assert all(share in {k / 6 for k in range(7)} for share in shares.values())
    assert all(row["pick"] == "strong" for row in stability["rows"])
    assert all(row["halves"] == "6 of 6" for row in stability["rows"])


def test_a_half_on_which_a_metric_ties_every_model_is_not_counted_as_a_pick(tmp_path):
    # N = 60 > D = 40 on all samples, 30 <= 40 on a half: H-score saturates at C - 1 there and picks nobody
    store = three_models(tmp_path, "wide", n=60, dim=40, seed=1)
    argv = ["--results", str(store.root), "--datasets", "wide", "--metrics", "logme,hscore", "--stability-draws", "4"]
    assert evaluate_metric_cls.main(argv) == 0
    rows = json.loads(store.table_path("cnn_supervised/classification_wide_stability.json").read_text())["rows"]
    by_metric = {row["metric"]: row for row in rows}
    assert by_metric["hscore"]["halves"] == "0 of 4" and by_metric["hscore"]["same pick"] is None
    assert by_metric["logme"]["halves"] == "4 of 4" and by_metric["logme"]["same pick"] == 1.0
