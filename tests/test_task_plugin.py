"""A task plugs in by one module: a toy task (rows of numbers with text labels) defined here, and nothing else
touched, runs through stages 1, 2 and 3."""
import argparse
import json

import numpy as np
import pytest
import torch

import metrics
from pipeline import evaluate, extract, flabel_stage
from pipeline.flabels import minilm_path
from pipeline.store import Store
from pipeline.tasks import Candidate, FeatureModel, FlabelKind, Samples, Task, register
from pipeline.tasks.base import command

CLASSES = ["small numbers", "large numbers", "negative numbers"]


class ToyTabular(Task):
    """Rows of 6 numbers, 3 classes; each candidate is a fixed random projection of a width of its own."""
    name = "toy_tabular"
    flabel_kind = FlabelKind.CLASS
    options = {"ROWS": 90}

    def dataset_args(self, args):
        return list(args.datasets)

    def dataset_name(self, args, name):
        return name

    def load_samples(self, name, args):
        rng = np.random.default_rng(0)
        labels = np.arange(args.rows) % len(CLASSES)
        rows = rng.normal(size=(args.rows, 6)) + 3.0 * np.eye(6)[labels]
        items = torch.utils.data.TensorDataset(torch.as_tensor(rows, dtype=torch.float32), torch.as_tensor(labels))
        return Samples(name, items, labels, list(CLASSES), {"rows": args.rows})

    def zoo_models(self, zoo):
        return ["wide", "narrow", "noise"]

    def candidate(self, model, args):
        width = {"wide": 5, "narrow": 2, "noise": 4}[model]

        def load():
            generator = torch.Generator().manual_seed(width)
            projection = torch.nn.Linear(6, width, bias=False)
            projection.weight.data = torch.randn(width, 6, generator=generator)

            def forward(batch):
                inputs = torch.randn(batch[0].shape, generator=generator) if model == "noise" else batch[0]
                return {model: projection(inputs)}, {}

            return FeatureModel(projection, forward, lambda samples: samples.items)

        return Candidate(model, (model,), lambda stored: {"width": width}, load)

    def stage1_command(self, dataset, models, stored_meta):
        return command("toy_stage1.py", {"models": list(models), "datasets": dataset})

    def stage2_command(self, dataset, stored_meta):
        return command("toy_stage2.py", {"datasets": dataset})


register(ToyTabular())


def test_a_task_defined_in_one_module_runs_stages_1_2_and_3(tmp_path, capsys):
    results = tmp_path / "results"
    args = argparse.Namespace(datasets=["toyrows"], rows=90, zoo="toy", models=[], results=results, batch_size=32,
                              num_workers=0, device="cpu", amp=False, overwrite=False)
    assert extract.run_stage1(ToyTabular(), args) == 0
    store = Store(results)
    features, labels, meta = store.load_features("toyrows", "wide")
    assert features.shape == (90, 5) and meta["rows"] == 90 and meta["task"] == "toy_tabular"

    constants = {"TASK": "toy_tabular", "DATASETS": ["toyrows"], "MODEL": str(minilm_path()), "ENCODER_NAME": None,
                 "TEMPLATE": "{}", "BATCH_SIZE": 8, "DEVICE": "cpu", "RESULTS": results,
                 "DATA_ROOT": tmp_path / "data", "OVERWRITE": False}
    assert flabel_stage.run_stage2(constants, backend="hf", argv=[]) == 0
    table, flabel_meta = store.load_flabels("toyrows", "all-MiniLM-L6-v2", "class")
    assert table.shape == (3, 384) and flabel_meta["class_texts"] == CLASSES

    settings = evaluate.Settings(task="toy_tabular", zoo="toy", datasets=["toyrows"], metrics=["emms", "knn"],
                                 results=str(results))
    outcome = evaluate.run(settings)
    assert outcome["counts"] == {"scored": 6, "skipped": 0, "failed": 0, "not applicable": 0}
    emms = store.load_scores("toyrows", "emms")
    assert emms["wide"]["score"] == pytest.approx(metrics.emms(features, [table], labels), rel=1e-12)
    assert emms["wide"]["flabel_weights"] == {"all-MiniLM-L6-v2": 1.0}
    knn = {model: entry["score"] for model, entry in store.load_scores("toyrows", "knn").items()}
    assert knn["wide"] > knn["noise"]   # the projection of the signal beats a projection of noise
    ranking = json.loads(store.table_path("toy/toy_tabular_results.json").read_text())["datasets"]["toyrows"]["ranking"]
    assert ranking["knn"][-1][0] == "noise"
