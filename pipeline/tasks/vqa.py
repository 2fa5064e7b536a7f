"""Visual question answering: (image, question) pairs, each distinct normalised answer a class.

The pipeline of image classification on (image, question) pairs (EMMS, NeurIPS 2023, arXiv 2308.06262: VQA is
scored as classification over the answer vocabulary). Datasets (:mod:`pipeline.vqa_data`): a
``questions.csv``/``.tsv`` table, CLEVR, VQA v2, COCO-QA and DAQUAR, answers normalised as the VQA evaluation
does; the class set is the kept answers of the split (``--min-answer-count``, ``--max-answers``), the label of a
question its answer's index. Candidates (:mod:`pipeline.vqa_models`): dual encoders ``IMAGE+TEXT`` (zoo
``efficientnet_lite_minilm``: EfficientNet-Lite0/1/2 with the bundled all-MiniLM-L6-v2, offline) and Hugging Face
ViLT / BLIP VQA models (zoo ``vqa_transformers``, or folders under ``--checkpoint-dir``). Stage 2 embeds the answer
vocabulary as class names (``Label_embedding/bert.py --task vqa``); stage 3 runs every classification metric.
"""
from __future__ import annotations

import argparse
from typing import Sequence

import numpy as np

from pipeline.tasks import register
from pipeline.tasks.base import Candidate, FlabelKind, Samples, Task, command


class VisualQuestionAnswering(Task):
    name = "vqa"
    flabel_kind = FlabelKind.CLASS
    stage1_script = "forward_feature_vqa.py"
    stage2_scripts = {"clip": "Label_embedding/clip.py", "bert": "Label_embedding/bert.py",
                      "gpt2": "Label_embedding/gpt2.py"}
    measure = "VQA accuracy after fine-tuning (%)"
    options = {"DATASET_DIR": None, "SPLIT": "train", "MAX_SAMPLES": None, "MIN_ANSWER_COUNT": 1, "MAX_ANSWERS": None}
    option_types = {"MAX_SAMPLES": int, "MAX_ANSWERS": int, "MIN_ANSWER_COUNT": int}
    option_help = {"DATASET_DIR": "a VQA folder (any supported format) or a questions .csv/.tsv table; "
                                  "replaces DATASETS",
                   "SPLIT": "train, val, test, ... (CLEVR, VQA v2, COCO-QA, DAQUAR; a table has none)",
                   "MAX_SAMPLES": "None: every question; N: the first N questions of the fixed order",
                   "MIN_ANSWER_COUNT": "keep the answers given to at least this many questions (the others' "
                                       "questions are dropped and counted)",
                   "MAX_ANSWERS": "None: every answer; N: the N most frequent (VQA v2 practice: 3129)"}

    def dataset_args(self, args: argparse.Namespace) -> list[str | None]:
        if args.dataset_dir:
            return [None]
        if not args.datasets:
            raise SystemExit("error: no VQA dataset: pass --datasets NAME (a folder under --data-root) or "
                             "--dataset-dir PATH (a folder or a questions .csv/.tsv)")
        return list(args.datasets)

    def name_of_path(self, path) -> str:
        from pipeline.vqa_data import dataset_name_of

        return dataset_name_of(path)

    def dataset_name(self, args: argparse.Namespace, name: str | None) -> str:
        return self.name_of_path(args.dataset_dir) if args.dataset_dir else name

    def load_samples(self, name: str | None, args: argparse.Namespace) -> Samples:
        from pipeline.vqa_data import load_vqa

        vqa = load_vqa(name, data_root=args.data_root, dataset_dir=args.dataset_dir, split=args.split,
                       max_samples=args.max_samples, min_answer_count=args.min_answer_count,
                       max_answers=args.max_answers)
        settings = {"split": vqa.split, "max_samples": args.max_samples, "min_answer_count": args.min_answer_count,
                    "max_answers": args.max_answers, "format": vqa.data_format, "skipped_rows": vqa.skipped,
                    "dropped_questions": vqa.dropped}
        return Samples(vqa.name, vqa, np.asarray(vqa.labels, dtype=np.int64), list(vqa.classes), settings,
                       vqa.source, [str(path) for path in vqa.image_paths], identity_parts=list(vqa.questions))

    def zoo_models(self, zoo: str) -> list[str]:
        from pipeline.vqa_models import zoo_models

        return zoo_models(zoo)

    def stored_names(self, zoo: str) -> list[str]:
        from pipeline.vqa_models import stored_names

        return [stored for model in super().stored_names(zoo) for stored in stored_names(model)]

    def candidate(self, model: str, args: argparse.Namespace) -> Candidate:
        from pipeline import vqa_models

        if vqa_models.is_dual(model):
            image_size = getattr(args, "image_size", None)
            if image_size is not None and image_size < 1:
                raise ValueError(f"--image-size must be a positive number of pixels (or none), got {image_size}")
            return vqa_models.dual_candidate(model, pretrained=getattr(args, "pretrained", True), image_size=image_size,
                                             checkpoint_dir=getattr(args, "checkpoint_dir", None))
        return vqa_models.hf_candidate(model, getattr(args, "checkpoint_dir", None))

    def stage1_command(self, dataset: str, models: Sequence[str], stored_meta: dict | None) -> str:
        from pipeline.vqa_models import network_of

        meta = stored_meta or {}
        networks = list(dict.fromkeys(network_of(model) for model in models))
        return command(self.stage1_script, {"zoo": meta.get("zoo"), "models": networks, **_where(dataset, meta),
                                            "image-size": meta.get("input_size"), **_selection(meta)})

    def stage2_command(self, dataset: str, stored_meta: dict | None) -> str:
        meta = stored_meta or {}
        return command(self.stage2_scripts["bert"], {"task": self.name, **_where(dataset, meta), **_selection(meta)})


def _where(dataset: str, meta: dict) -> dict:
    return {"dataset-dir": meta["dataset_dir"]} if meta.get("dataset_dir") else {"datasets": dataset}


def _selection(meta: dict) -> dict:
    return {"split": meta.get("split"), "max-samples": meta.get("max_samples"),
            "min-answer-count": meta.get("min_answer_count") if meta.get("min_answer_count") != 1 else None,
            "max-answers": meta.get("max_answers")}


register(VisualQuestionAnswering())
