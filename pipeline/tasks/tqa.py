"""Extractive text question answering: one feature row and one F-label row per question.

Datasets: SQuAD JSON (v1.1/v2.0 file names or ``<split>.json``) or a ``qa.jsonl`` table, under
``DATA_ROOT/<name>/`` or given with ``--qa-file`` (:mod:`pipeline.qa_data`). Candidates: any Hugging Face
extractive-QA model or plain encoder with a fast tokenizer; the feature of a question is the last layer's states
averaged over the gold answer's tokens in the window that holds the answer (``--feature span``), or the [CLS]
state of that window (``--feature cls``) (:mod:`pipeline.qa_models`). The label of a row is the index of its
context. Stage 2 embeds each question's answer text (``Label_embedding/*_sentence.py --task tqa``); stage 3 runs
the metrics that take real-valued targets (EMMS with the per-sample F-labels, LogME in regression form).
"""
from __future__ import annotations

import argparse
from typing import Sequence

import numpy as np

from pipeline.tasks import register
from pipeline.tasks.base import Candidate, FeatureModel, FlabelKind, Samples, Task, command

SHOWN_SKIPPED = 10   # bad rows printed one a line; the rest are counted
class TextQA(Task):
    name = "tqa"
    flabel_kind = FlabelKind.SAMPLE
    datasets = ("squad", "squad_v2")
    stage1_script = "forward_feature_tqa.py"
    stage2_scripts = {"clip": "Label_embedding/clip_sentence.py", "bert": "Label_embedding/bert_sentence.py",
                      "gpt2": "Label_embedding/gpt2_sentence.py"}
    measure = "F1 after fine-tuning"
    options = {"QA_FILE": None, "SPLIT": "train", "UNANSWERABLE": "drop", "MAX_SAMPLES": None}
    option_types = {"MAX_SAMPLES": int}
    option_help = {"QA_FILE": "a SQuAD-format .json or a qa.jsonl table instead of DATASETS",
                   "SPLIT": "SQuAD split: train, dev, or the <split> of <split>.json (a qa.jsonl table has none)",
                   "UNANSWERABLE": "drop: leave SQuAD v2.0's unanswerable questions out; keep: keep them with the "
                                   "F-label text 'no answer' (their feature: the [CLS] state)",
                   "MAX_SAMPLES": "None: all questions; N: the first N of the fixed order"}

    def dataset_args(self, args: argparse.Namespace) -> list[str | None]:
        return [None] if args.qa_file else list(args.datasets)

    def name_of_path(self, path) -> str:
        from pipeline.qa_data import dataset_name_of

        return dataset_name_of(path)

    def dataset_name(self, args: argparse.Namespace, name: str | None) -> str:
        return self.name_of_path(args.qa_file) if args.qa_file else name

    def load_samples(self, name: str | None, args: argparse.Namespace) -> Samples:
        from pipeline.qa_data import load_qa

        questions = load_qa(name, data_root=args.data_root, qa_file=args.qa_file, split=args.split,
                            unanswerable=args.unanswerable, max_samples=args.max_samples)
        _report_skipped(questions)
        settings = {"split": questions.split, "unanswerable": args.unanswerable, "max_samples": args.max_samples,
                    "skipped_rows": len(questions.skipped), "unanswerable_dropped": questions.unanswerable_dropped,
                    "qa_file": questions.source if args.qa_file else None, "source": questions.source}
        return Samples(questions.name, questions, np.asarray(questions.groups, dtype=np.int64), questions.answers,
                       settings, questions.source, questions.ids, identity_parts=[questions.digest])

    def zoo_models(self, zoo: str) -> list[str]:
        from pipeline.qa_models import zoo_models

        return zoo_models(zoo)

    def candidate(self, model: str, args: argparse.Namespace) -> Candidate:
        from pipeline.qa_models import FEATURES, load_qa_model, resolve_checkpoint

        if args.feature not in FEATURES:
            raise ValueError(f"--feature must be one of {', '.join(FEATURES)}, got {args.feature!r}")
        settings = {"feature": args.feature, "weights": resolve_checkpoint(model, args.checkpoint_dir),
                    "layer": "last hidden state", "max_length": args.max_length, "stride": args.stride}

        def load() -> FeatureModel:
            feature_model, meta = load_qa_model(model, checkpoint_dir=args.checkpoint_dir, feature=args.feature,
                                                max_length=args.max_length, stride=args.stride)
            return FeatureModel(feature_model, lambda batch: ({model: feature_model(*batch)}, {}),
                                lambda samples: feature_model.inputs(samples.items), collate=feature_model.collate,
                                meta=meta)

        return Candidate(model, (model,), lambda stored: dict(settings), load)

    def stage1_command(self, dataset: str, models: Sequence[str], stored_meta: dict | None) -> str:
        meta = stored_meta or {}
        return command(self.stage1_script, {"models": list(models), **self._where(dataset, meta),
                                            **self._dataset_flags(meta), "feature": meta.get("feature"),
                                            "max-length": meta.get("max_length"), "stride": meta.get("stride")})

    def stage2_command(self, dataset: str, stored_meta: dict | None) -> str:
        meta = stored_meta or {}
        return command(self.stage2_scripts["bert"], {"task": self.name, **self._where(dataset, meta),
                                                     **self._dataset_flags(meta)})

    @staticmethod
    def _where(dataset: str, meta: dict) -> dict:
        """--qa-file where the stored features were made from a file given by path, else --datasets."""
        given = meta.get("qa_file")
        return {"qa-file": given} if given else {"datasets": dataset}

    @staticmethod
    def _dataset_flags(meta: dict) -> dict:
        return {"split": meta.get("split"), "unanswerable": meta.get("unanswerable"),
                "max-samples": meta.get("max_samples")}


def _report_skipped(questions) -> None:
    for line in questions.skipped[:SHOWN_SKIPPED]:
        print(f"[{questions.name}] skipped {line}", flush=True)
    if len(questions.skipped) > SHOWN_SKIPPED:
        print(f"[{questions.name}] ... and {len(questions.skipped) - SHOWN_SKIPPED} more bad rows skipped", flush=True)
    if questions.skipped or questions.unanswerable_dropped:
        print(f"[{questions.name}] {len(questions)} questions kept, {len(questions.skipped)} bad row(s) skipped, "
              f"{questions.unanswerable_dropped} unanswerable dropped (--unanswerable {questions.unanswerable})",
              flush=True)


register(TextQA())
