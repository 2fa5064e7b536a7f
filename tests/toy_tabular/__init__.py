"""A task of its own in one package: rows of 6 numbers with text labels, 3 classes; each candidate is a fixed
random projection of a width of its own. Nothing else in the repository knows it: the stages find it by
``--task toy_tabular`` (this package importable), see tests/test_task_plugin.py."""
import numpy as np
import torch

from pipeline.cli import Option
from pipeline.kinds import FlabelKind
from pipeline.tasks import Candidate, FeatureModel, Samples, Task, Zoo, register, register_zoo

CLASSES = ["small numbers", "large numbers", "negative numbers"]
WIDTHS = {"wide": 5, "narrow": 2, "noise": 4}


class ToyTabular(Task):
    name = "toy_tabular"
    flabel_kind = FlabelKind.CLASS
    stage1_script = "forward_feature_CNN.py"
    stage2_scripts = {"bert": "Label_embedding/bert.py"}
    options = (Option("ROWS", 90, "rows of the table", int),)

    def load_samples(self, name, args):
        rng = np.random.default_rng(0)
        labels = np.arange(args.rows) % len(CLASSES)
        rows = rng.normal(size=(args.rows, 6)) + 3.0 * np.eye(6)[labels]
        items = torch.utils.data.TensorDataset(torch.as_tensor(rows, dtype=torch.float32), torch.as_tensor(labels))
        return Samples(name, items, labels, list(CLASSES), {"rows": args.rows})

    def candidate(self, model, args):
        width = WIDTHS[model]

        def load():
            generator = torch.Generator().manual_seed(width)
            projection = torch.nn.Linear(6, width, bias=False)
            projection.weight.data = torch.randn(width, 6, generator=generator)

            def forward(batch):
                inputs = torch.randn(batch[0].shape, generator=generator) if model == "noise" else batch[0]
                return {model: projection(inputs)}, {}

            return FeatureModel(projection, forward, lambda samples: samples.items)

        return Candidate(model, (model,), lambda stored: {"width": width, "network": model}, load)


register(ToyTabular())
register_zoo(Zoo("toy", "toy_tabular", tuple(WIDTHS), "three projections of the rows", default=True))
