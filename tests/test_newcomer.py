"""A newcomer's run (issue 25): the same folder spelled two ways is the same data, hints work when pasted,
--models takes what stage 1 took, stage 3 ranks what is stored, a run that scores nothing keeps the earlier tables,
and ties are printed as ties."""
import json
import os
import shlex

import numpy as np
import pytest
from PIL import Image

import evaluate_metric_cls
import metrics
import evaluate_metric_rec
import forward_feature_CNN
from Label_embedding import bert as bert_script
from metrics.registry import MetricSpec
from pipeline import evaluate, extract
from pipeline.evaluate.hints import Hints
from pipeline.evaluate.inputs import Inputs
from pipeline.flabels import stage as flabel_stage
from pipeline.store import Store


def image_folder(root, classes=("cat", "dog", "owl"), per_class=6, seed=0):
    rng = np.random.default_rng(seed)
    for c in classes:
        (root / c).mkdir(parents=True)
        for i in range(per_class):
            Image.fromarray(rng.integers(0, 256, (36, 36, 3), dtype=np.uint8)).save(root / c / f"{i}.png")
    return root


STAGE1 = ["--models", "resnet18", "--pretrained", "false", "--image-size", "32", "--num-workers", "0",
          "--batch-size", "6", "--zoo", "mine"]


def test_the_same_folder_spelled_relative_absolute_or_through_a_symlink_is_the_same_data(tmp_path, monkeypatch,
                                                                                           capsys):
    monkeypatch.chdir(tmp_path)
    image_folder(tmp_path / "mydata" / "photos")
    (tmp_path / "link").symlink_to(tmp_path / "mydata")
    results = str(tmp_path / "results")
    assert extract.main(vars(forward_feature_CNN), ["--dataset-dir", "mydata/photos", "--results", results,
                                                    *STAGE1]) == 0
    absolute = str(tmp_path / "mydata" / "photos")
    assert flabel_stage.run_stage2(vars(bert_script), backend="hf",
                                   argv=["--dataset-dir", absolute, "--model", "minilm", "--results", results]) == 0
    capsys.readouterr()
    stage3 = ["--results", results, "--zoo", "mine", "--metrics", "emms,knn"]
    assert evaluate_metric_cls.main([*stage3, "--dataset-dir", "link/photos"]) == 0
    out = capsys.readouterr().out
    assert "fingerprint" not in out and "scored 2 cell(s)" in out
    # stage 1 again through the symlink: the same data, nothing is extracted again
    assert extract.main(vars(forward_feature_CNN), ["--dataset-dir", "link/photos", "--results", results,
                                                    *STAGE1]) == 0
    assert "already there, skipped" in capsys.readouterr().out


def test_a_hint_repeats_the_path_as_typed_and_works_when_pasted(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    image_folder(tmp_path / "mydata" / "photos")
    results = str(tmp_path / "results")
    assert extract.main(vars(forward_feature_CNN), ["--dataset-dir", "mydata/photos", "--results", results,
                                                    *STAGE1]) == 0
    capsys.readouterr()
    # stage 3 names a second model: its command is printed with the folder as typed, and running it works
    assert evaluate_metric_cls.main(["--results", results, "--dataset-dir", "mydata/photos", "--metrics", "knn",
                                     "--models", "resnet18,mobilenet_v2", "--zoo", "mine"]) == 0
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if "[missing features]" in line and "make them with" in line)
    command = line.split("make them with: ")[1]
    assert "--dataset-dir mydata/photos" in command and "--models mobilenet_v2" in command
    argv = shlex.split(command)[2:]   # python forward_feature_CNN.py ...
    assert argv[argv.index("--results") + 1] == results
    assert extract.main(vars(forward_feature_CNN), [*argv, "--num-workers", "0"]) == 0
    assert Store(results).has_features("photos", "mobilenet_v2")


def test_stage3_models_take_a_network_name_for_its_stored_depths(tmp_path, capsys):
    image_folder(tmp_path / "photos")
    results = str(tmp_path / "results")
    assert extract.main(vars(forward_feature_CNN), ["--dataset-dir", str(tmp_path / "photos"), "--results", results,
                                                    "--models", "efficientnet_lite0", "--pretrained", "false",
                                                    "--image-size", "32", "--num-workers", "0",
                                                    "--zoo", "efficientnet_lite"]) == 0
    capsys.readouterr()
    argv = ["--results", results, "--dataset-dir", str(tmp_path / "photos"), "--metrics", "knn"]
    assert evaluate_metric_cls.main([*argv, "--models", "efficientnet_lite0"]) == 0   # the name stage 1 took
    out = capsys.readouterr().out
    assert "scored 3 cell(s)" in out and "missing" not in out
    assert sorted(Store(results).load_scores("photos", "knn")) == [
        "efficientnet_lite0_early", "efficientnet_lite0_last", "efficientnet_lite0_mid"]
    assert evaluate_metric_cls.main([*argv, "--models", "efficientnet_lite0_mid"]) == 0   # a stored name
    assert "skipped 1 already scored" in capsys.readouterr().out


def _sample_task_store(tmp_path, models, dataset="myrefs", n=40, encoders=("all-MiniLM-L6-v2",)):
    """Per-sample features and F-labels of one made-up dataset, with the data identity stage 3 checks."""
    rng = np.random.default_rng(0)
    store = Store(tmp_path / "results")
    data = {"source": "made up", "samples": n, "fingerprint": "f00d"}
    target = rng.normal(size=(n, 6))
    for model, signal in zip(models, (2.0, 1.0, 0.5, 0.2)):
        features = signal * target @ rng.normal(size=(6, 10)) + rng.normal(size=(n, 10))
        store.save_features(dataset, model, features, np.arange(n) // 2,
                            {"task": "rec", "data": data, "network": model, "weights": model})
    for encoder in encoders:
        store.save_flabels(dataset, encoder, "sample", target if encoder != "box" else target[:, :4],
                           {"data": data, "encoder": encoder, "checkpoint": None if encoder == "box" else "/minilm",
                            "script": "Label_embedding/box.py" if encoder == "box" else
                            "Label_embedding/bert_sentence.py"})
    return store


def test_without_a_zoo_stage3_ranks_what_is_stored(tmp_path, capsys):
    store = _sample_task_store(tmp_path, ["owl_a", "owl_b"])
    assert evaluate_metric_rec.main(["--results", str(store.root), "--datasets", "myrefs"]) == 0
    out = capsys.readouterr().out
    assert "missing features" not in out and "efficientnet_lite0" not in out
    assert sorted(store.load_scores("myrefs", "logme")) == ["owl_a", "owl_b"]
    # a zoo named on purpose scores its members, and names the ones missing
    assert evaluate_metric_rec.main(["--results", str(store.root), "--datasets", "myrefs", "--zoo",
                                     "rec_efficientnet_lite_minilm"]) == 1
    assert "[missing features] myrefs: 9 model(s)" in capsys.readouterr().out


def test_stale_box_flabels_name_the_box_script(tmp_path):
    store = _sample_task_store(tmp_path, ["owl_a", "owl_b"], encoders=("all-MiniLM-L6-v2", "box"))
    plan = evaluate.make_plan(evaluate.Settings(task="rec", datasets=["myrefs"], results=str(store.root)))
    inputs = Inputs(plan)
    hints = Hints(plan, inputs)
    assert hints.stage2("myrefs", "box").startswith("python Label_embedding/box.py --datasets myrefs")
    assert hints.stage2("myrefs", "all-MiniLM-L6-v2").startswith(
        "python Label_embedding/bert_sentence.py --task rec --datasets myrefs")
    other = {"source": "made up", "samples": 40, "fingerprint": "other"}
    table, minilm = store.load_flabels("myrefs", "all-MiniLM-L6-v2", "sample")
    store.save_flabels("myrefs", "all-MiniLM-L6-v2", "sample", table, {**minilm, "data": other})  # remade; box not
    meta = dict(store.features_meta("myrefs", "owl_a"), data=other)
    with pytest.raises(ValueError, match="python Label_embedding/box.py"):
        inputs.flabels("myrefs", meta, lambda encoder: hints.stage2("myrefs", encoder))


def test_a_run_that_scores_nothing_leaves_the_earlier_tables(tmp_path, capsys):
    store = _sample_task_store(tmp_path, ["owl_a", "owl_b", "owl_c"])
    argv = ["--results", str(store.root), "--datasets", "myrefs", "--metrics", "logme"]
    assert evaluate_metric_rec.main(argv) == 0
    ranking = store.table_path("efficientnet_lite_minilm/rec_myrefs_ranking.md")
    before = ranking.read_text()
    assert "owl_a" in before
    capsys.readouterr()
    assert evaluate_metric_rec.main([*argv, "--models", "owl_gone"]) == 1
    assert ranking.read_text() == before
    assert "left as they were" in capsys.readouterr().out


def test_tied_scores_are_printed_as_ties_and_a_constant_metric_ranks_nothing(tmp_path, monkeypatch, capsys):
    store = _sample_task_store(tmp_path, ["owl_a", "owl_c"])
    features, labels, meta = store.load_features("myrefs", "owl_a")
    store.save_features("myrefs", "owl_b", np.array(features), labels, {**meta, "network": "owl_b"})  # a's twin
    monkeypatch.setitem(metrics.METRICS, "flat", MetricSpec("flat", lambda features, labels: -0.49,
                                                            "features+labels", ("real",)))
    assert evaluate_metric_rec.main(["--results", str(store.root), "--datasets", "myrefs", "--metrics",
                                     "flat,logme"]) == 0
    out = capsys.readouterr().out
    assert "myrefs / * / flat: all 3 models score the same (-0.49): the metric does not tell them apart" in out
    ranking = store.table_path("efficientnet_lite_minilm/rec_myrefs_ranking.md").read_text()
    header = ranking.splitlines()[2]
    assert "flat" not in header and "logme" in header
    logme = store.load_scores("myrefs", "logme")
    assert logme["owl_a"]["score"] == logme["owl_b"]["score"] != logme["owl_c"]["score"]
    assert f"owl_a ({logme['owl_a']['score']:.4g})=" in ranking and f"owl_b ({logme['owl_b']['score']:.4g})=" in ranking
    assert f"owl_c ({logme['owl_c']['score']:.4g})=" not in ranking and "ties with another" in ranking


def test_the_saturation_mark_goes_with_a_ridge(tmp_path, capsys):
    rng = np.random.default_rng(0)
    store = Store(tmp_path / "results")
    labels = np.arange(12) % 3
    for model in ("a", "b", "c"):
        store.save_features("tiny", model, rng.normal(size=(12, 20)), labels, {"weights": model})
    store.save_flabels("tiny", "enc", "class", rng.normal(size=(3, 5)), {"encoder": "enc"})
    truth = tmp_path / "truth.json"
    truth.write_text(json.dumps({"zoo": "t", "finetune": {"tiny": {"a": 1.0, "b": 2.0, "c": 3.0}}}))
    argv = ["--results", str(store.root), "--ground-truth", str(truth), "--zoo", "t", "--metrics", "emms"]
    assert evaluate_metric_cls.main(argv) == 0
    summary = store.table_path("t/classification_summary.md").read_text()
    assert "*" in summary.splitlines()[4]
    assert evaluate_metric_cls.main([*argv, "--metric-options", '{"emms": {"ridge": 4}}']) == 0
    assert "*" not in store.table_path("t/classification_summary.md").read_text().splitlines()[4]
    assert os.path.exists(store.scores_path("tiny", "emms"))


def test_stage2_names_the_folder_it_could_not_read(tmp_path, capsys):
    missing = str(tmp_path / "not_here")
    assert flabel_stage.run_stage2(vars(bert_script), backend="hf", argv=[
        "--dataset-dir", missing, "--model", "minilm", "--results", str(tmp_path / "results")]) == 1
    err = capsys.readouterr().err
    assert f"could not be read: {missing}" in err and "None" not in err
