"""A task plugs in as one package: the toy task of tests/toy_tabular/ (rows of numbers with text labels), which
nothing else in the repository names, runs through the stage scripts of stages 1, 2 and 3 with --task."""
import json

import pytest

import evaluate_metric_cls
import forward_feature_CNN
import metrics
from pipeline import evaluate, extract
from pipeline.flabels import stage as flabel_stage
from pipeline.store import Store
from Label_embedding import bert as bert_script
from toy_tabular import CLASSES


def test_a_task_of_one_package_runs_the_stage_scripts(tmp_path, capsys):
    results = str(tmp_path / "results")
    common = ["--task", "toy_tabular", "--datasets", "toyrows", "--results", results]
    assert extract.main(vars(forward_feature_CNN), [*common, "--zoo", "toy", "--num-workers", "0", "--rows", "90"]) == 0
    store = Store(results)
    features, labels, meta = store.load_features("toyrows", "wide")
    assert features.shape == (90, 5) and meta["rows"] == 90 and meta["task"] == "toy_tabular" and meta["zoo"] == "toy"

    assert flabel_stage.run_stage2(vars(bert_script), backend="hf", argv=[*common, "--model", "minilm"]) == 0
    table, flabel_meta = store.load_flabels("toyrows", "all-MiniLM-L6-v2", "class")
    assert table.shape == (3, 384) and flabel_meta["class_texts"] == CLASSES

    assert evaluate_metric_cls.main([*common, "--zoo", "toy", "--metrics", "emms,knn"]) == 0
    emms = store.load_scores("toyrows", "emms")
    assert emms["wide"]["score"] == pytest.approx(metrics.emms(features, [table], labels), rel=1e-12)
    assert emms["wide"]["flabel_weights"] == {"all-MiniLM-L6-v2": 1.0}
    knn = {model: entry["score"] for model, entry in store.load_scores("toyrows", "knn").items()}
    assert knn["wide"] > knn["noise"]   # the projection of the signal beats a projection of noise
    ranking = json.loads(store.table_path("toy/toy_tabular_results.json").read_text())["datasets"]["toyrows"]["ranking"]
    assert ranking["knn"][-1][0] == "noise"


def test_the_toy_task_is_one_package_that_nothing_else_names():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    package = root / "tests" / "toy_tabular"
    assert sorted(p.name for p in package.iterdir() if p.suffix == ".py") == ["__init__.py"]
    mentions = [path for folder in ("pipeline", "metrics", "Label_embedding") for path in (root / folder).rglob("*.py")
                if "toy_tabular" in path.read_text()]
    assert mentions == [] and "toy_tabular" not in (root / "forward_feature_CNN.py").read_text()
    assert evaluate.Settings(task="toy_tabular").task == "toy_tabular"
