"""Stage 3 end to end on tiny synthetic features written through the store (evaluate_metric_*.py main(argv))."""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import metrics
from metrics.registry import MetricSpec
from pipeline.store import Store

ROOT = Path(__file__).resolve().parents[1]
MODELS = ["strong", "good", "weak", "noise"]           # decreasing signal about the labels
TRUTH = {"strong": 90.0, "good": 80.0, "weak": 70.0, "noise": 60.0}


def _script(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fisher_ratio(features, labels):
    """Between-class over within-class variance (a made-up metric with a known order on the toy zoo)."""
    features = np.asarray(features, dtype=np.float64)
    means = np.stack([features[labels == c].mean(0) for c in np.unique(labels)])
    within = sum(((features[labels == c] - means[i]) ** 2).sum() for i, c in enumerate(np.unique(labels)))
    return float(((means - features.mean(0)) ** 2).sum() * len(features) / len(means) / within)


def _r2(features, targets, regression=True):
    features = np.c_[np.asarray(features, dtype=np.float64), np.ones(len(features))]
    fit = features @ np.linalg.lstsq(features, targets, rcond=None)[0]
    return float(1 - ((targets - fit) ** 2).sum() / ((targets - targets.mean(0)) ** 2).sum())


def _broken(features, labels):
    raise RuntimeError("this metric always fails")


@pytest.fixture
def fake_metrics(monkeypatch):
    monkeypatch.setitem(metrics.METRICS, "fisher", MetricSpec("fisher", _fisher_ratio, "features+labels"))
    monkeypatch.setitem(metrics.METRICS, "broken", MetricSpec("broken", _broken, "features+labels"))
    monkeypatch.setitem(metrics.METRICS, "r2", MetricSpec("r2", _r2, "features+labels", ("real",)))


def _cls_zoo(tmp_path, n=240, classes=4, dim=12):
    rng = np.random.default_rng(0)
    store = Store(tmp_path / "results")
    labels = np.arange(n) % classes
    centres = rng.normal(size=(classes, dim))
    for model, signal in zip(MODELS, (3.0, 1.5, 0.7, 0.0)):
        features = signal * centres[labels] + rng.normal(size=(n, dim))
        store.save_features("toyset", model, features, labels, {"weights": "synthetic"})
    for encoder in ("enc_a", "enc_b"):
        store.save_flabels("toyset", encoder, "class", rng.normal(size=(classes, 8)), {"template": "synthetic"})
    truth = tmp_path / "truth.json"
    truth.write_text(json.dumps({"zoo": "toy", "description": "made up", "source": "test",
                                 "measure": {"toyset": "accuracy (%)"}, "finetune": {"toyset": TRUTH}}))
    return store, ["--zoo", "toy", "--ground-truth", str(truth), "--results", str(store.root)]


def test_cls_end_to_end_then_skips_finished_work(tmp_path, fake_metrics, capsys):
    store, argv = _cls_zoo(tmp_path)
    script = _script("evaluate_metric_cls")
    assert script.main(argv + ["--metrics", "fisher,broken"]) == 0
    printed = capsys.readouterr()
    assert "fisher on zoo toy" in printed.out and "weighted τ" in printed.out
    assert "[failed] toyset / strong / broken: RuntimeError: this metric always fails" in printed.out
    scores = store.load_scores("toyset", "fisher")
    assert [m for m, _ in sorted(scores.items(), key=lambda kv: -kv[1]["score"])] == MODELS
    results = json.loads(store.table_path("toy/classification_results.json").read_text())
    assert results["datasets"]["toyset"]["correlations"]["fisher"]["weighted_tau"] == pytest.approx(1.0)
    assert results["datasets"]["toyset"]["correlations"]["fisher"]["rel1"] == pytest.approx(1.0)
    for name in ("toy/classification_fisher.md", "toy/classification_fisher.csv", "toy/classification_summary.md", "toy/classification_summary.csv",
                 "toy/plots/classification_toyset.png"):
        assert store.table_path(name).stat().st_size > 0, name
    assert store.table_path("toy/plots/classification_toyset.png").read_bytes()[:4] == b"\x89PNG"
    summary_json = json.loads(store.table_path("toy/classification_summary.json").read_text())
    assert summary_json["rows"][0]["dataset"] == "toyset" and summary_json["rows"][0]["broken"] is None
    assert summary_json["rows"][0]["fisher"] == pytest.approx(1.0)
    summary_csv = store.table_path("toy/classification_summary.csv").read_text().splitlines()
    assert summary_csv[0] == "dataset,fisher,broken,consensus,random"   # no baseline is known for synthetic models
    dataset, fisher, broken, consensus, random = summary_csv[1].split(",")
    assert dataset == "toyset" and float(fisher) == pytest.approx(1.0) and broken == ""
    assert float(consensus) == pytest.approx(1.0) and abs(float(random)) < 0.1   # the consensus of one metric

    assert script.main(argv + ["--metrics", "fisher"]) == 0
    second = capsys.readouterr().out
    assert "scored 0 cell(s), skipped 4 already scored" in second
    assert store.load_scores("toyset", "fisher") == scores      # seconds unchanged: nothing re-ran
    assert script.main(argv + ["--metrics", "fisher", "--overwrite", "true"]) == 0
    assert "scored 4 cell(s), skipped 0" in capsys.readouterr().out


def test_cls_with_emms_and_logme_ranks_the_zoo_in_order(tmp_path, capsys):
    store, argv = _cls_zoo(tmp_path)
    assert _script("evaluate_metric_cls").main(argv + ["--metrics", "emms,logme"]) == 0
    results = json.loads(store.table_path("toy/classification_results.json").read_text())
    for name in ("emms", "logme"):
        assert results["datasets"]["toyset"]["correlations"][name]["weighted_tau"] == pytest.approx(1.0), name
    out = capsys.readouterr().out
    assert "emms on zoo toy" in out and "would pick, and the one fine-tuning picked" in out
    picks = store.table_path("toy/classification_picks.csv").read_text().splitlines()
    assert picks == ["dataset,fine-tuning,emms,logme,consensus", "toyset,strong,strong,strong,strong"]
    candidates = store.table_path("toy/classification_candidates.csv").read_text().splitlines()
    assert candidates == ["dataset,emms,logme,consensus,random", "toyset,4,4,4,4"]


def test_missing_file_mismatch_and_model_without_truth_are_clear_messages(tmp_path, fake_metrics, capsys):
    store, argv = _cls_zoo(tmp_path)
    rng = np.random.default_rng(1)
    for extra in ("extra", "short_labels"):
        store.save_features("toyset", extra, rng.normal(size=(240, 12)), np.arange(240) % 4, {})
    np.save(store.feature_paths("toyset", "short_labels")["label"], np.zeros(10, dtype=np.int64))  # length mismatch
    store.feature_paths("toyset", "weak")["feature"].unlink()                # a missing feature file
    code = _script("evaluate_metric_cls").main(
        argv + ["--metrics", "fisher", "--models", "strong,good,weak,noise,extra,short_labels"])
    assert code == 0
    out = capsys.readouterr().out
    assert "Traceback" not in out
    assert f"missing {store.feature_paths('toyset', 'weak')['feature']}" in out
    assert "make it with: python forward_feature_CNN.py --models weak --datasets toyset" in out
    assert "holds (240, 12) features but" in out and "(10,) labels" in out
    assert "model(s) ['extra', 'short_labels'] have no fine-tuned result for 'toyset'" in out
    results = json.loads(store.table_path("toy/classification_results.json").read_text())
    assert sorted(results["datasets"]["toyset"]["scores"]["fisher"]) == ["extra", "good", "noise", "strong"]
    assert results["datasets"]["toyset"]["correlations"]["fisher"]["weighted_tau"] == pytest.approx(1.0)
    assert {p["kind"] for p in results["problems"]} == {"missing features", "bad input", "no ground truth", "note"}


def _zoo_fisher(features_by_model, labels):
    return {model: _fisher_ratio(features, labels) for model, features in features_by_model.items()}


def test_users_dataset_without_ground_truth_ranks_models_and_compares_metrics(tmp_path, fake_metrics, monkeypatch,
                                                                              capsys):
    monkeypatch.setitem(metrics.METRICS, "zoo_fisher", MetricSpec("zoo_fisher", _zoo_fisher, "zoo+labels"))
    store, _ = _cls_zoo(tmp_path)
    rng = np.random.default_rng(2)
    labels = np.arange(90) % 3
    centres = rng.normal(size=(3, 6))
    for model, signal in zip(MODELS, (3.0, 1.5, 0.7, 0.0)):
        store.save_features("my_photos", model, signal * centres[labels] + rng.normal(size=(90, 6)), labels, {})
    argv = ["--zoo", "my_own_zoo", "--results", str(store.root), "--dataset-dir", str(tmp_path / "my_photos"),
            "--metrics", "fisher,zoo_fisher,broken"]
    assert _script("evaluate_metric_cls").main(argv) == 0
    out = capsys.readouterr().out
    assert "my_photos: models ranked by the consensus of the metrics and by each metric" in out
    assert "agreement between metrics" in out
    ranking = store.table_path("my_own_zoo/classification_my_photos_ranking.csv").read_text().splitlines()
    assert ranking[0] == "rank,consensus,fisher,zoo_fisher"
    assert [row.split(",")[2].split(" ")[0] for row in ranking[1:]] == MODELS   # models from the store, ranked
    agreement = store.table_path("my_own_zoo/classification_my_photos_agreement.csv").read_text().splitlines()
    assert agreement[1] == "consensus,1.0,1.0,1.0" and agreement[2] == "fisher,1.0,1.0,1.0"
    results = json.loads(store.table_path("my_own_zoo/classification_results.json").read_text())
    assert results["datasets"]["my_photos"]["has_ground_truth"] is False
    assert not store.table_path("my_own_zoo/plots").exists()          # nothing to plot against
    assert _script("evaluate_metric_cls").main(argv) == 0
    assert "scored 0 cell(s), skipped 5 already scored" in capsys.readouterr().out   # 4 models x fisher + zoo_fisher


def test_emms_without_flabels_names_the_stage_2_command(tmp_path, capsys):
    store, argv = _cls_zoo(tmp_path)
    for encoder in ("enc_a", "enc_b"):
        for path in store.flabel_paths("toyset", encoder, "class").values():
            path.unlink()
    assert _script("evaluate_metric_cls").main(argv + ["--metrics", "emms"]) == 1   # nothing scored: a failing exit
    out = capsys.readouterr().out
    assert "no class F-labels" in out and "python Label_embedding/bert.py --datasets toyset" in out


def test_user_error_from_the_shell_is_one_line_without_traceback(tmp_path):
    run = subprocess.run([sys.executable, "evaluate_metric_cls.py", "--results", str(tmp_path),
                          "--metrics", "no_such_metric"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "Traceback" not in run.stderr + run.stdout
    assert "error: unknown metric(s) ['no_such_metric']; available: emms, logme" in run.stderr


@pytest.mark.parametrize("flag, message", [
    (["--ground-truth", "/nowhere/truth.json"], "ground-truth file /nowhere/truth.json does not exist"),
    (["--zoo", "zoo_without_truth"], "no datasets: nothing of the classification task is stored in"),
])
def test_user_errors_exit_2_with_a_message(tmp_path, capsys, flag, message):
    assert _script("evaluate_metric_cls").main(["--results", str(tmp_path), *flag]) == 2
    assert message in capsys.readouterr().err


def _caption_zoo(tmp_path, n=150):
    rng = np.random.default_rng(3)
    store = Store(tmp_path / "results")
    captions = rng.normal(size=(n, 5))                     # what the captions say, per sample
    for encoder, width in (("bert_sentence", 6), ("gpt2_sentence", 4)):
        store.save_flabels("capset", encoder, "sample", captions @ rng.normal(size=(5, width)), {})
    for model, signal in zip(MODELS, (3.0, 1.0, 0.4, 0.0)):
        features = signal * captions @ rng.normal(size=(5, 10)) + rng.normal(size=(n, 10))
        store.save_features("capset", model, features, np.arange(n), {})
    truth = tmp_path / "caption_truth.json"
    truth.write_text(json.dumps({"zoo": "captoy", "finetune": {"capset": {m: v / 100 for m, v in TRUTH.items()}}}))
    return store, ["--zoo", "captoy", "--ground-truth", str(truth), "--results", str(store.root)]


def test_caption_path_scores_real_valued_targets(tmp_path, fake_metrics, capsys):
    store, argv = _caption_zoo(tmp_path)
    script = _script("evaluate_metric_caption")
    assert script.main(argv + ["--metrics", "r2"]) == 0
    out = capsys.readouterr().out
    assert "r2 on zoo captoy" in out
    results = json.loads(store.table_path("captoy/captioning_results.json").read_text())
    assert results["datasets"]["capset"]["correlations"]["r2"]["weighted_tau"] == pytest.approx(1.0)
    assert store.table_path("captoy/plots/captioning_capset.png").exists()
    assert script.main(argv + ["--metrics", "fisher"]) == 2          # a class-label metric cannot score captions
    assert "do not take 'real' targets" in capsys.readouterr().err


def test_caption_flabels_misaligned_with_features_is_a_clear_message(tmp_path, fake_metrics, capsys):
    store, argv = _caption_zoo(tmp_path)
    store.save_flabels("capset", "bert_sentence", "sample", np.ones((7, 6)), {})
    assert _script("evaluate_metric_caption").main(argv + ["--metrics", "r2"]) == 1   # nothing could be scored
    assert "per-sample F-labels of 'bert_sentence' have 7 rows but the features have 150" in capsys.readouterr().out


def test_caption_with_emms_and_logme(tmp_path, capsys):
    store, argv = _caption_zoo(tmp_path)
    assert _script("evaluate_metric_caption").main(argv) == 0            # default metrics: those taking real targets
    results = json.loads(store.table_path("captoy/captioning_results.json").read_text())
    for name in ("emms", "logme"):
        assert results["datasets"]["capset"]["correlations"][name]["weighted_tau"] == pytest.approx(1.0), name
    assert "emms" in capsys.readouterr().out


def test_class_tables_follow_the_classes_present():
    from pipeline.tasks.base import class_tables
    tables = {"enc": np.arange(12.0).reshape(4, 3)}
    picked = class_tables(tables, np.array([3, 0, 1, 3, 0]))       # class 2 absent from this split
    assert np.array_equal(picked[0], tables["enc"][[0, 1, 3]])
    with pytest.raises(ValueError, match="have 4 rows but the labels go up to class 7"):
        class_tables(tables, np.array([0, 7]))


def test_changed_inputs_are_scored_again(tmp_path, fake_metrics, capsys):
    store, argv = _cls_zoo(tmp_path)
    script = _script("evaluate_metric_cls")
    assert script.main(argv + ["--metrics", "fisher"]) == 0
    features, labels, meta = store.load_features("toyset", "weak")
    store.save_features("toyset", "weak", np.array(features), labels, {**meta, "weights": "re-extracted"})
    capsys.readouterr()
    assert script.main(argv + ["--metrics", "fisher"]) == 0
    assert "scored 1 cell(s), skipped 3 already scored" in capsys.readouterr().out


def test_device_flag_reaches_metrics_that_take_one(tmp_path, monkeypatch):
    seen = []

    def on_device(features, labels, device=None):
        seen.append(device)
        return _fisher_ratio(features, labels)
    monkeypatch.setitem(metrics.METRICS, "on_device", MetricSpec("on_device", on_device, "features+labels",
                                                                 options=("device",), takes_device=True))
    monkeypatch.setitem(metrics.METRICS, "fisher", MetricSpec("fisher", _fisher_ratio, "features+labels"))
    store, argv = _cls_zoo(tmp_path)
    assert _script("evaluate_metric_cls").main(argv + ["--metrics", "on_device,fisher", "--device", "cuda"]) == 0
    assert seen == ["cuda"] * 4 and len(store.load_scores("toyset", "fisher")) == 4   # fisher takes no device


def test_metric_options_reach_the_metric_and_its_warnings_are_reported(tmp_path, capsys):
    store, argv = _cls_zoo(tmp_path, n=8, dim=12)   # N=8 <= D=12: EMMS interpolates without a ridge
    script = _script("evaluate_metric_cls")
    assert script.main(argv + ["--metrics", "emms"]) == 0
    out = capsys.readouterr().out
    assert "[warning] toyset / strong, good, weak, noise / emms: EMMS with N=8" in out
    assert script.main(argv + ["--metrics", "emms"]) == 0        # skipped, and its caveat still said
    out = capsys.readouterr().out
    assert "skipped 4" in out and "[warning] toyset / strong, good, weak, noise / emms: EMMS with N=8" in out
    assert script.main(argv + ["--metrics", "emms", "--metric-options", '{"emms": {"ridge": 4.0}}']) == 0
    out = capsys.readouterr().out
    assert "scored 4 cell(s)" in out and "[warning]" not in out        # new options: re-scored, no warning
    features, labels, _ = store.load_features("toyset", "good")
    tables = [store.load_flabels("toyset", e, "class")[0] for e in ("enc_a", "enc_b")]
    assert store.load_scores("toyset", "emms")["good"]["score"] == pytest.approx(
        metrics.emms(features, tables, labels, ridge=4.0))
    fit = metrics.emms_fit(features, tables, labels, ridge=4.0)   # which encoder carried the score
    assert store.load_scores("toyset", "emms")["good"]["flabel_weights"] == pytest.approx(
        dict(zip(("enc_a", "enc_b"), fit.weights)))
    assert "toyset: EMMS's weight λ per F-label encoder" in out


@pytest.mark.parametrize("options, message", [('{"emms": {"rige": 1}}', "takes no option(s) ['rige']"),
                                              ('{"nosuch": {}}', "unknown metric 'nosuch'"),
                                              ('{"emms": 1}', "takes JSON of {metric: {keyword: value}}")])
def test_bad_metric_options_are_usage_errors(tmp_path, capsys, options, message):
    _, argv = _cls_zoo(tmp_path)
    assert _script("evaluate_metric_cls").main(argv + ["--metrics", "emms", "--metric-options", options]) == 2
    assert message in capsys.readouterr().err


def test_source_probability_metrics_skip_models_without_a_source_head(tmp_path, capsys):
    store, argv = _cls_zoo(tmp_path)
    rng = np.random.default_rng(1)
    for model in ("strong", "good", "weak"):
        features, labels, meta = store.load_features("toyset", model)
        store.save_features("toyset", model, np.array(features), labels, meta,
                            source_probs=rng.dirichlet(np.ones(5), size=240))
    assert _script("evaluate_metric_cls").main(argv + ["--metrics", "leep"]) == 0
    out = capsys.readouterr().out
    assert "0 failed, 1 not applicable" in out
    assert "[not applicable] toyset / noise / leep" in out
    assert sorted(store.load_scores("toyset", "leep")) == ["good", "strong", "weak"]


def test_a_failed_rescore_drops_the_old_score_instead_of_reporting_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(metrics.METRICS, "fisher", MetricSpec("fisher", _fisher_ratio, "features+labels"))
    store, argv = _cls_zoo(tmp_path)
    script = _script("evaluate_metric_cls")
    assert script.main(argv + ["--metrics", "fisher"]) == 0
    features, labels, _ = store.load_features("toyset", "good")
    store.save_features("toyset", "good", np.asarray(features)[:, :1], labels, {"weights": "re-extracted"})
    monkeypatch.setitem(metrics.METRICS, "fisher", MetricSpec("fisher", _broken, "features+labels"))
    assert script.main(argv + ["--metrics", "fisher"]) == 0
    assert "[failed] toyset / good / fisher" in capsys.readouterr().out
    assert sorted(store.load_scores("toyset", "fisher")) == ["noise", "strong", "weak"]


def test_whole_zoo_metrics_with_fewer_than_two_models_are_not_applicable(tmp_path, capsys):
    store, argv = _cls_zoo(tmp_path)
    assert _script("evaluate_metric_cls").main(argv + ["--metrics", "ncti", "--models", "strong"]) == 1
    out = capsys.readouterr().out
    assert "0 failed, 1 not applicable" in out and "needs the features of at least 2 models; 1 loaded" in out
    assert store.load_scores("toyset", "ncti") == {}
