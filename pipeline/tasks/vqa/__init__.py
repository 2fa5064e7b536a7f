"""Visual question answering: (image, question) pairs, each distinct normalised answer a class.

The pipeline of image classification on (image, question) pairs (EMMS, NeurIPS 2023, arXiv 2308.06262: VQA is
scored as classification over the answer vocabulary). Datasets (:mod:`.data`): a ``questions.csv``/``.tsv``
table, CLEVR, VQA v2, COCO-QA and DAQUAR, answers normalised as the VQA evaluation does; the class set is the kept
answers of the split (``--min-answer-count``, ``--max-answers``), the label of a question its answer's index.
Candidates (:mod:`.models`): dual encoders ``IMAGE+TEXT`` (zoo ``vqa_efficientnet_lite_minilm``:
EfficientNet-Lite0/1/2 with the bundled all-MiniLM-L6-v2, offline) and Hugging Face ViLT / BLIP VQA models (zoo
``vqa_transformers``, or folders under ``--checkpoint-dir``). Stage 2 embeds the answer vocabulary as class names
(``Label_embedding/bert.py --task vqa``); stage 3 runs every classification metric.
"""
from __future__ import annotations

import argparse

import numpy as np

from pipeline.cli import Option
from pipeline.kinds import FlabelKind
from pipeline.models import names
from pipeline.tasks.base import Candidate, Samples, Task, Zoo, register, register_zoo


class VisualQuestionAnswering(Task):
    name = "vqa"
    flabel_kind = FlabelKind.CLASS
    stage1_script = "forward_feature_vqa.py"
    stage2_scripts = {"clip": "Label_embedding/clip.py", "bert": "Label_embedding/bert.py",
                      "gpt2": "Label_embedding/gpt2.py"}
    measure = "VQA accuracy after fine-tuning (%)"
    path_option = Option("DATASET_DIR", None, "a VQA folder (any supported format) or a questions .csv/.tsv "
                                              "table; replaces DATASETS")
    options = (
        Option("SPLIT", "train", "train, val, test, ... (CLEVR, VQA v2, COCO-QA, DAQUAR; a table has none)"),
        Option("MAX_SAMPLES", None, "None: every question; N: the first N questions of the fixed order", int),
        Option("MIN_ANSWER_COUNT", 1, "keep the answers given to at least this many questions (the others' "
                                      "questions are dropped and counted)", int),
        Option("MAX_ANSWERS", None, "None: every answer; N: the N most frequent (VQA v2 practice: 3129)", int),
    )
    stage1_options = (
        Option("IMAGE_SIZE", None, "dual encoders: input side in pixels; None: the image model's own", int,
               meta_key="input_size"),
        Option("PRETRAINED", True, "dual encoders: false = a random-init image model (tests)"),
    )

    def name_of_path(self, path) -> str:
        from pipeline.tasks.vqa.data import dataset_name_of

        return dataset_name_of(path)

    def load_samples(self, name: str | None, args: argparse.Namespace) -> Samples:
        from pipeline.tasks.vqa.data import load_vqa

        vqa = load_vqa(name, data_root=args.data_root, dataset_dir=args.dataset_dir, split=args.split,
                       max_samples=args.max_samples, min_answer_count=args.min_answer_count,
                       max_answers=args.max_answers, strict=getattr(args, "strict", False))
        settings = {"split": vqa.split, "max_samples": args.max_samples, "min_answer_count": args.min_answer_count,
                    "max_answers": args.max_answers, "format": vqa.data_format, "skipped_rows": vqa.skipped,
                    "dropped_questions": vqa.dropped}
        return Samples(vqa.name, vqa, np.asarray(vqa.labels, dtype=np.int64), list(vqa.classes), settings,
                       vqa.source, [str(path) for path in vqa.image_paths], identity_parts=list(vqa.questions))

    def stored_names(self, model: str) -> list[str]:
        return names.dual_stored_names(model) if names.is_dual(model) else [model]

    def candidate(self, model: str, args: argparse.Namespace) -> Candidate:
        from pipeline.tasks.vqa import models

        if names.is_dual(model):
            if args.image_size is not None and args.image_size < 1:
                raise ValueError(f"--image-size must be a positive number of pixels (or none), got {args.image_size}")
            return models.dual_candidate(model, pretrained=args.pretrained, image_size=args.image_size,
                                         checkpoint_dir=args.checkpoint_dir)
        return models.hf_candidate(model, args.checkpoint_dir)


register(VisualQuestionAnswering())
register_zoo(Zoo("vqa_efficientnet_lite_minilm", "vqa",
                 tuple(f"{network}+{names.BUNDLED_TEXT}" for network in names.EFFICIENTNET_LITE),
                 "EfficientNet-Lite0/1/2 (three depths each) joined with the bundled all-MiniLM-L6-v2 (offline)",
                 "forward_feature_vqa.py", aliases=("efficientnet_lite_minilm",), default=True))
register_zoo(Zoo("vqa_transformers", "vqa", ("dandelin/vilt-b32-finetuned-vqa", "Salesforce/blip-vqa-base"),
                 "ViLT and BLIP VQA models (hub ids)", "forward_feature_vqa.py"))
