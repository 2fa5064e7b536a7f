"""Extractive text question answering: one feature row and one F-label row per question.

Datasets (:mod:`.data`): SQuAD JSON (v1.1/v2.0 file names or ``<split>.json``) or a ``qa.jsonl`` table, under
``DATA_ROOT/<name>/`` or given with ``--dataset-dir`` (formerly ``--qa-file``). Candidates (:mod:`.models`): any
Hugging Face extractive-QA model or plain encoder with a fast tokenizer; the feature of a question is the last
layer's states averaged over the gold answer's tokens in the window that holds the answer (``--feature span``),
or the [CLS] state of that window (``--feature cls``). The label of a row is the index of its context. Stage 2
embeds each question's answer text (``Label_embedding/*_sentence.py --task tqa``); stage 3 runs the metrics that
take real-valued targets (EMMS with the per-sample F-labels, LogME in regression form).
"""
from __future__ import annotations

import argparse

import numpy as np

from pipeline.cli import Option
from pipeline.kinds import FlabelKind
from pipeline.models.text import MINILM
from pipeline.tasks.base import Candidate, FeatureModel, Samples, Task, Zoo, register, register_zoo


class TextQA(Task):
    name = "tqa"
    flabel_kind = FlabelKind.SAMPLE
    datasets = ("squad", "squad_v2")
    stage1_script = "forward_feature_tqa.py"
    stage2_scripts = {"clip": "Label_embedding/clip_sentence.py", "bert": "Label_embedding/bert_sentence.py",
                      "gpt2": "Label_embedding/gpt2_sentence.py"}
    measure = "F1 after fine-tuning"
    path_option = Option("DATASET_DIR", None, "a SQuAD-format .json or a qa.jsonl table instead of DATASETS",
                         aliases=("--qa-file",))
    options = (
        Option("SPLIT", "train", "SQuAD split: train, dev, or the <split> of <split>.json (a qa.jsonl table has "
                                 "none)"),
        Option("UNANSWERABLE", "drop", "drop: leave SQuAD v2.0's unanswerable questions out; keep: keep them with "
                                       "the F-label text 'no answer' (their feature: the [CLS] state)"),
        Option("MAX_SAMPLES", None, "None: all questions; N: the first N of the fixed order", int),
    )
    stage1_options = (
        Option("FEATURE", "span", "span: mean of the answer's tokens; cls: the [CLS] state of the window holding "
                                  "the answer"),
        Option("MAX_LENGTH", 384, "tokens per window (question + context), as SQuAD fine-tuning uses; lowered to "
                                  "what the model takes"),
        Option("STRIDE", 128, "tokens shared by consecutive windows of a long context (SQuAD's doc_stride)"),
    )

    def name_of_path(self, path) -> str:
        from pipeline.tasks.tqa.data import dataset_name_of

        return dataset_name_of(path)

    def load_samples(self, name: str | None, args: argparse.Namespace) -> Samples:
        from pipeline.tasks.tqa.data import load_qa

        questions = load_qa(name, data_root=args.data_root, qa_file=args.dataset_dir, split=args.split,
                            unanswerable=args.unanswerable, max_samples=args.max_samples,
                            strict=getattr(args, "strict", False))
        _report_skipped(questions)
        settings = {"split": questions.split, "unanswerable": args.unanswerable, "max_samples": args.max_samples,
                    "skipped_rows": len(questions.skipped), "unanswerable_dropped": questions.unanswerable_dropped,
                    "source": questions.source}
        return Samples(questions.name, questions, np.asarray(questions.groups, dtype=np.int64), questions.answers,
                       settings, questions.source, questions.ids, identity_parts=[questions.digest])

    def candidate(self, model: str, args: argparse.Namespace) -> Candidate:
        from pipeline.tasks.tqa.models import FEATURES, load_qa_model, resolve_checkpoint

        if args.feature not in FEATURES:
            raise ValueError(f"--feature must be one of {', '.join(FEATURES)}, got {args.feature!r}")
        settings = {"feature": args.feature, "weights": resolve_checkpoint(model, args.checkpoint_dir),
                    "layer": "last hidden state", "max_length": args.max_length, "stride": args.stride,
                    "network": model}

        def load() -> FeatureModel:
            feature_model, meta = load_qa_model(model, checkpoint_dir=args.checkpoint_dir, feature=args.feature,
                                                max_length=args.max_length, stride=args.stride)
            return FeatureModel(feature_model, lambda batch: ({model: feature_model(*batch)}, {}),
                                lambda samples: feature_model.inputs(samples.items), collate=feature_model.collate,
                                meta=meta)

        return Candidate(model, (model,), lambda stored: dict(settings), load)


def _report_skipped(questions) -> None:
    """The bad rows in the one format of :func:`pipeline.tasks.rows.report`, then what was kept and dropped."""
    from pipeline.tasks.rows import report

    report(questions.name, questions.skipped)
    if questions.skipped or questions.unanswerable_dropped:
        print(f"[{questions.name}] {len(questions)} questions kept, {len(questions.skipped)} bad row(s) skipped, "
              f"{questions.unanswerable_dropped} unanswerable dropped (--unanswerable {questions.unanswerable})",
              flush=True)


register(TextQA())
register_zoo(Zoo("tqa", "tqa", ("bert-base-uncased", "roberta-base", "albert-base-v2", "microsoft/deberta-v3-base",
                                "google/electra-base-discriminator", "distilbert-base-uncased"),
                 "pre-trained BERT, RoBERTa, ALBERT, DeBERTa-v3, ELECTRA and DistilBERT (hub ids)",
                 "forward_feature_tqa.py", default=True))
register_zoo(Zoo("tqa_offline", "tqa", (MINILM,), "the bundled all-MiniLM-L6-v2 (offline)", "forward_feature_tqa.py",
                 aliases=("offline",)))
