"""Image captioning: (image, caption) pairs, one feature row and one F-label row per pair.

Datasets: Karpathy split files, COCO caption annotations, or a ``.csv``/``.tsv`` table given with
``--caption-file`` (:mod:`pipeline.captions`). Candidates: any ``VisionEncoderDecoderModel`` (folders under
``--checkpoint-dir``, paths or hub ids); the feature of a pair is the last decoder layer's states with the caption
fed by teacher forcing, averaged over its real tokens (:mod:`pipeline.caption_models`). The label of a row is the
index of its image. Stage 2 embeds each caption (``Label_embedding/*_sentence.py``); stage 3 runs the metrics that
take real-valued targets (EMMS with the per-sample F-labels, LogME in regression form).
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Sequence

import numpy as np

from pipeline import defaults
from pipeline.tasks import register
from pipeline.tasks.base import Candidate, FeatureModel, FlabelKind, Samples, Task, command


class Captioning(Task):
    name = "captioning"
    flabel_kind = FlabelKind.SAMPLE
    datasets = defaults.CAPTIONING_DATASETS
    stage1_script = "forward_feature_caption.py"
    stage2_scripts = {"clip": "Label_embedding/clip_sentence.py", "bert": "Label_embedding/bert_sentence.py",
                      "gpt2": "Label_embedding/gpt2_sentence.py"}
    measure = "BLEU-4 after fine-tuning"
    options = {"CAPTION_FILE": None, "SPLIT": "train", "MAX_PER_IMAGE": None, "MAX_SAMPLES": None}
    option_types = {"MAX_PER_IMAGE": int, "MAX_SAMPLES": int}
    option_help = {"CAPTION_FILE": "a .csv/.tsv of (image path, caption) rows instead of DATASETS (named after its "
                                   "stem)",
                   "SPLIT": "caption split: train, val, test, restval or all (a .csv/.tsv table has none)",
                   "MAX_PER_IMAGE": "None: every caption of an image (Karpathy: 5); N: the first N",
                   "MAX_SAMPLES": "None: all pairs; N: the first N pairs of the fixed order"}

    def dataset_args(self, args: argparse.Namespace) -> list[str | None]:
        return [None] if args.caption_file else list(args.datasets)

    def name_of_path(self, path) -> str:
        from pipeline.captions import dataset_name_of

        return dataset_name_of(path)

    def dataset_name(self, args: argparse.Namespace, name: str | None) -> str:
        return self.name_of_path(args.caption_file) if args.caption_file else name

    def load_samples(self, name: str | None, args: argparse.Namespace) -> Samples:
        from pipeline.captions import load_captions

        pairs = load_captions(name, data_root=args.data_root, caption_file=args.caption_file, split=args.split,
                              max_per_image=args.max_per_image, max_samples=args.max_samples)
        settings = {"split": pairs.split, "max_per_image": args.max_per_image, "max_samples": args.max_samples,
                    "source": pairs.source}
        return Samples(pairs.name, pairs, np.asarray(pairs.image_ids, dtype=np.int64), pairs.captions, settings,
                       pairs.source, [str(path) for path in pairs.image_paths])

    def zoo_models(self, zoo: str) -> list[str]:
        from pipeline.caption_models import zoo_models

        return zoo_models(zoo)

    def candidate(self, model: str, args: argparse.Namespace) -> Candidate:
        from pipeline.caption_models import FEATURES, load_caption_model, resolve_checkpoint

        if args.feature not in FEATURES:
            raise ValueError(f"--feature must be one of {', '.join(FEATURES)}, got {args.feature!r}")
        checkpoint = resolve_checkpoint(model, args.checkpoint_dir)
        settings = {"feature": args.feature, "weights": checkpoint, "layer": f"{args.feature} last hidden state"}
        if args.feature == "decoder":
            settings["lowercase"] = args.lowercase

        def load() -> FeatureModel:
            feature_model, meta = load_caption_model(model, checkpoint_dir=args.checkpoint_dir, feature=args.feature,
                                                     lowercase=args.lowercase)
            return FeatureModel(feature_model, lambda batch: ({model: feature_model(**batch[0])}, {}),
                                lambda samples: samples.items, collate=feature_model.collate, meta=meta)

        return Candidate(model, (model,), lambda stored: dict(settings), load)

    def stage1_command(self, dataset: str, models: Sequence[str], stored_meta: dict | None) -> str:
        meta = stored_meta or {}
        source = meta.get("source", "")
        where = ({"caption-file": source} if Path(source).suffix.lower() in (".csv", ".tsv")
                 else {"datasets": dataset})
        return command(self.stage1_script, {"models": list(models), **where, "split": meta.get("split"),
                                            "max-per-image": meta.get("max_per_image"),
                                            "max-samples": meta.get("max_samples"), "feature": meta.get("feature")})

    def stage2_command(self, dataset: str, stored_meta: dict | None) -> str:
        meta = stored_meta or {}
        source = meta.get("source", "")
        where = ({"caption-file": source} if Path(source).suffix.lower() in (".csv", ".tsv")
                 else {"datasets": dataset})
        return command(self.stage2_scripts["bert"], {**where, "split": meta.get("split"),
                                                     "max-per-image": meta.get("max_per_image"),
                                                     "max-samples": meta.get("max_samples")})


register(Captioning())
