"""Image classification: labelled images, class-name F-labels (one row per class), every classification metric.

Datasets: the paper's 11 torchvision sets, the offline sets (mnist5k, textiles, digits) and any ImageFolder given
with ``--dataset-dir`` (:mod:`pipeline.datasets`). Zoos: ``cnn_supervised``, ``vit``, ``efficientnet_lite`` and
any torchvision or timm name (:mod:`pipeline.zoo`); the feature is the pooled vector the classifier head reads,
and the softmax of the source head is kept where the model has one (LEEP, NCE). Stage 2 embeds the class names
(``Label_embedding/clip.py``, ``bert.py``, ``gpt2.py``); stage 3 gives EMMS the class tables and the labels.
"""
from __future__ import annotations

import argparse
import copy
from pathlib import Path
from typing import Sequence

from pipeline import defaults
from pipeline.tasks import register
from pipeline.tasks.base import Candidate, FeatureModel, FlabelKind, Samples, Task, command


class Classification(Task):
    name = "classification"
    flabel_kind = FlabelKind.CLASS
    datasets = defaults.CLASSIFICATION_DATASETS
    stage1_script = "forward_feature_CNN.py"
    stage2_scripts = {"clip": "Label_embedding/clip.py", "bert": "Label_embedding/bert.py",
                      "gpt2": "Label_embedding/gpt2.py"}
    measure = "top-1 accuracy after fine-tuning (%)"
    options = {"DATASET_DIR": None, "SPLIT": None, "MAX_SAMPLES": None, "DOWNLOAD": False}
    option_types = {"SPLIT": str, "MAX_SAMPLES": int}
    option_help = {"DATASET_DIR": "a folder in ImageFolder layout (one sub-folder per class); replaces DATASETS",
                   "SPLIT": "None: the training data (train+val where there is a val split); e.g. test",
                   "MAX_SAMPLES": "None: all; N: a fixed stratified first-k subset (classes take turns)",
                   "DOWNLOAD": "download missing datasets (sizes are printed first)"}

    def dataset_args(self, args: argparse.Namespace) -> list[str | None]:
        return [None] if args.dataset_dir else list(args.datasets)

    def name_of_path(self, path) -> str:
        from pipeline.datasets import dataset_name

        return dataset_name(dataset_dir=path)

    def dataset_name(self, args: argparse.Namespace, name: str | None) -> str:
        return self.name_of_path(args.dataset_dir) if args.dataset_dir else name

    def load_samples(self, name: str | None, args: argparse.Namespace) -> Samples:
        from pipeline import datasets

        images = datasets.load_dataset(name, data_root=args.data_root, dataset_dir=args.dataset_dir,
                                       split=args.split, download=getattr(args, "download", False),
                                       max_samples=args.max_samples)
        settings = {"split": images.split, "max_samples": images.max_samples, "subset": images.subset}
        source = str(Path(args.dataset_dir).resolve()) if args.dataset_dir else images.name
        paths = images.images if isinstance(images.images, list) and all(
            isinstance(item, str) for item in images.images) else None
        return Samples(self.dataset_name(args, name), images, images.labels, list(images.classes), settings,
                       source, paths)

    def flabel_texts(self, name: str | None, args: argparse.Namespace) -> tuple[str, list[str], dict]:
        """Stage 2 needs only the class names: shipped for some datasets, so no images are read."""
        from pipeline.datasets import class_names

        classes = list(class_names(name, data_root=args.data_root, dataset_dir=args.dataset_dir, split=args.split))
        source = str(Path(args.dataset_dir).resolve()) if args.dataset_dir else name
        return self.dataset_name(args, name), classes, {"split": args.split,
                                                        "data": {"source": source, "classes": classes}}

    def zoo_models(self, zoo: str) -> list[str]:
        from pipeline.zoo import zoo_models

        return zoo_models(zoo)

    def stored_names(self, zoo: str) -> list[str]:
        from pipeline.zoo import candidate_names

        return [stored for network in super().stored_names(zoo) for stored in candidate_names(network)]

    def candidate(self, model: str, args: argparse.Namespace) -> Candidate:
        from pipeline import zoo

        return self.candidate_of_spec(zoo.model_spec(
            model, pretrained=getattr(args, "pretrained", True), image_size=getattr(args, "image_size", None),
            checkpoint=zoo.find_checkpoint(getattr(args, "checkpoint_dir", None), model)))

    @staticmethod
    def candidate_of_spec(spec) -> Candidate:
        """A :class:`pipeline.zoo.ModelSpec` as a candidate of this task."""

        def load() -> FeatureModel:
            extractor = spec.load()

            def inputs(samples: Samples):
                view = copy.copy(samples.items)  # the same samples, with this network's preprocessing
                view.transform = extractor.transform
                return view

            return FeatureModel(extractor.module, lambda batch: extractor.module(batch[0]), inputs)

        return Candidate(spec.name, spec.candidates, lambda stored: {**spec.meta(stored), "network": spec.name}, load)

    def stage1_command(self, dataset: str, models: Sequence[str], stored_meta: dict | None) -> str:
        from pipeline import efficientnet_lite

        meta = stored_meta or {}
        where = ({"dataset-dir": meta["dataset_dir"]} if meta.get("dataset_dir")
                 else {"datasets": dataset})
        zoo = meta.get("zoo")
        networks = list(dict.fromkeys(efficientnet_lite.network_of(m) for m in models))
        script = "forward_feature_ViT.py" if zoo == "vit" else self.stage1_script
        return command(script, {"zoo": zoo, "models": networks, **where, "split": meta.get("split"),
                                "image-size": meta.get("input_size"), "max-samples": meta.get("max_samples")})

    def stage2_command(self, dataset: str, stored_meta: dict | None) -> str:
        meta = stored_meta or {}
        where = ({"dataset-dir": meta["dataset_dir"]} if meta.get("dataset_dir") else {"datasets": dataset})
        return command(self.stage2_scripts["bert"], {**where, "split": meta.get("split")})


register(Classification())
