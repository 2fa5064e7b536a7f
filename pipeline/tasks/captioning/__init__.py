"""Image captioning: (image, caption) pairs, one feature row and one F-label row per pair.

Datasets (:mod:`.data`): Karpathy split files, COCO caption annotations, or a ``.csv``/``.tsv`` table given with
``--dataset-dir`` (formerly ``--caption-file``). Candidates (:mod:`.models`): any ``VisionEncoderDecoderModel``
(folders under ``--checkpoint-dir``, paths or hub ids); the feature of a pair is the last decoder layer's states
with the caption fed by teacher forcing, averaged over its real tokens. The label of a row is the index of its
image. Stage 2 embeds each caption (``Label_embedding/*_sentence.py``); stage 3 runs the metrics that take
real-valued targets (EMMS with the per-sample F-labels, LogME in regression form).
"""
from __future__ import annotations

import argparse

import numpy as np

from pipeline import defaults
from pipeline.cli import Option
from pipeline.kinds import FlabelKind
from pipeline.tasks.base import Candidate, FeatureModel, Samples, Task, Zoo, register, register_zoo


class Captioning(Task):
    name = "captioning"
    flabel_kind = FlabelKind.SAMPLE
    datasets = defaults.CAPTIONING_DATASETS
    stage1_script = "forward_feature_caption.py"
    stage2_scripts = {"clip": "Label_embedding/clip_sentence.py", "bert": "Label_embedding/bert_sentence.py",
                      "gpt2": "Label_embedding/gpt2_sentence.py"}
    measure = "BLEU-4 after fine-tuning"
    path_option = Option("DATASET_DIR", None, "a .csv/.tsv of (image path, caption) rows, or a caption dataset's "
                                              "folder, instead of DATASETS (named after its stem)",
                         aliases=("--caption-file",))
    options = (
        Option("SPLIT", "train", "caption split: train, val, test, restval or all (a .csv/.tsv table has none)"),
        Option("MAX_PER_IMAGE", None, "None: every caption of an image (Karpathy: 5); N: the first N", int),
        Option("MAX_SAMPLES", None, "None: all pairs; N: the first N pairs of the fixed order", int),
    )
    stage1_options = (
        Option("FEATURE", "decoder", "decoder: teacher-forced decoder states over the caption; encoder: the mean "
                                     "of the image tokens"),
        Option("LOWERCASE", True, "lower-case captions for the decoder (the paper's models were fine-tuned on "
                                  "lower case)"),
    )

    def name_of_path(self, path) -> str:
        from pipeline.tasks.captioning.data import dataset_name_of

        return dataset_name_of(path)

    def load_samples(self, name: str | None, args: argparse.Namespace) -> Samples:
        from pipeline.tasks.captioning.data import load_captions

        pairs = load_captions(name, data_root=args.data_root, caption_file=args.dataset_dir, split=args.split,
                              max_per_image=args.max_per_image, max_samples=args.max_samples,
                              strict=getattr(args, "strict", False))
        settings = {"split": pairs.split, "max_per_image": args.max_per_image, "max_samples": args.max_samples,
                    "source": pairs.source, "skipped_rows": len(getattr(pairs, "skipped", ()))}
        return Samples(pairs.name, pairs, np.asarray(pairs.image_ids, dtype=np.int64), pairs.captions, settings,
                       pairs.source, [str(path) for path in pairs.image_paths])

    def candidate(self, model: str, args: argparse.Namespace) -> Candidate:
        from pipeline.tasks.captioning.models import FEATURES, load_caption_model, resolve_checkpoint

        if args.feature not in FEATURES:
            raise ValueError(f"--feature must be one of {', '.join(FEATURES)}, got {args.feature!r}")
        checkpoint = resolve_checkpoint(model, args.checkpoint_dir)
        settings = {"feature": args.feature, "weights": checkpoint, "layer": f"{args.feature} last hidden state",
                    "network": model}
        if args.feature == "decoder":
            settings["lowercase"] = args.lowercase

        def load() -> FeatureModel:
            feature_model, meta = load_caption_model(model, checkpoint_dir=args.checkpoint_dir, feature=args.feature,
                                                     lowercase=args.lowercase)
            return FeatureModel(feature_model, lambda batch: ({model: feature_model(**batch[0])}, {}),
                                lambda samples: samples.items, collate=feature_model.collate, meta=meta)

        return Candidate(model, (model,), lambda stored: dict(settings), load)


register(Captioning())
register_zoo(Zoo("caption", "captioning", ("vit_bert", "vit_roberta", "vit_bart", "swinvit_bert", "swinvit_roberta",
                                           "swinvit_bart", "swin2vit_bert", "swin2vit_roberta", "swin2vit_bart"),
                 "the paper's nine ViT/Swin/SwinV2 x BERT/RoBERTa/BART captioners (private fine-tunes: folders under "
                 "--checkpoint-dir)", "forward_feature_caption.py", "caption", default=True))
