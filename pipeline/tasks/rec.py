"""Referring expression comprehension: (image, expression, box) samples, one feature row and one F-label row each.

Datasets: a ``refs.jsonl`` table or RefCOCO/RefCOCO+/RefCOCOg in the refer toolkit's layout
(:mod:`pipeline.rec_data`). Candidates: grounding models (OWL-ViT, OWLv2, Grounding DINO) and the offline dual
encoders ``efficientnet_lite_minilm`` (:mod:`pipeline.grounding_models`); the feature of a sample is the model's
representation of the gold object joined with the expression's. The label of a row is the index of its image.

Stage 2 embeds one text per sample, by ``--flabel-text``: ``box`` (default), the gold box as text, its corners
normalised to the image size with two decimals, ``"x1=0.12 y1=0.40 x2=0.55 y2=0.98"``
(:func:`pipeline.rec_data.box_text`); ``expression``, the referring expression. ``Label_embedding/box.py`` writes the
numeric F-label of the box itself, ``(x1/W, y1/H, x2/W, y2/H)`` per sample (encoder name ``box``), so EMMS
combines text and geometric F-labels. Stage 3 runs the metrics that take real-valued targets (EMMS, LogME).
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from pipeline import hub
from pipeline.tasks import register
from pipeline.tasks.base import Candidate, FeatureModel, FlabelKind, Samples, Task, command

REC_DATASETS = ("refcoco", "refcoco+", "refcocog")
FLABEL_TEXTS = ("box", "expression")
BOX_ENCODER = "box"
BOX_FORMAT = "x1/W, y1/H, x2/W, y2/H (gold box corners normalised to the image size)"


@dataclass
class ReferringExpressions(Task):
    name = "rec"
    flabel_kind = FlabelKind.SAMPLE
    datasets = REC_DATASETS
    stage1_script = "forward_feature_rec.py"
    stage2_scripts = {"clip": "Label_embedding/clip_sentence.py", "bert": "Label_embedding/bert_sentence.py",
                      "gpt2": "Label_embedding/gpt2_sentence.py", "box": "Label_embedding/box.py"}
    measure = "Acc@0.5 after fine-tuning (share of expressions whose top box has IoU >= 0.5 with the gold box)"
    options = {"DATASET_DIR": None, "SPLIT": "train", "SPLIT_BY": None, "IMAGE_DIR": None, "MAX_SAMPLES": None,
               "FLABEL_TEXT": "box"}
    option_types = {"SPLIT": str, "SPLIT_BY": str, "MAX_SAMPLES": int, "FLABEL_TEXT": str}
    option_help = {"DATASET_DIR": "a folder holding refs.jsonl or refs(unc|umd|google).p + instances.json (or a "
                                  ".jsonl file); replaces DATASETS",
                   "SPLIT": "train, val, test, testA, testB or all (a refs.jsonl row without split is train)",
                   "SPLIT_BY": "refer toolkit split file: unc, umd or google (None: the first present, in that order)",
                   "IMAGE_DIR": "COCO train2014/ folder for the refer toolkit layout (None: looked for)",
                   "MAX_SAMPLES": "None: all samples; N: the first N of the fixed order",
                   "FLABEL_TEXT": "stage 2 text per sample: box ('x1=0.12 y1=0.40 x2=0.55 y2=0.98', corners over "
                                  "the image size) or expression"}

    # ----- datasets -----------------------------------------------------------------------------------
    def dataset_args(self, args: argparse.Namespace) -> list[str | None]:
        return [None] if args.dataset_dir else list(args.datasets)

    def name_of_path(self, path) -> str:
        from pipeline.rec_data import dataset_name_of

        return dataset_name_of(path)

    def dataset_name(self, args: argparse.Namespace, name: str | None) -> str:
        return self.name_of_path(args.dataset_dir) if args.dataset_dir else name

    def load_samples(self, name: str | None, args: argparse.Namespace) -> Samples:
        from pipeline.rec_data import box_text, load_refs

        refs = load_refs(name, data_root=args.data_root, dataset_dir=args.dataset_dir, split=args.split,
                         split_by=args.split_by, image_dir=args.image_dir, max_samples=args.max_samples)
        settings = {"split": refs.split, "split_by": args.split_by, "max_samples": args.max_samples,
                    "skipped_rows": len(refs.skipped)}
        texts = [box_text(box) for box in refs.normalised_boxes()]
        parts = [f"{expression}\t{','.join(f'{v:.3f}' for v in box)}"
                 for expression, box in zip(refs.expressions, refs.boxes)]
        return Samples(refs.name, refs, np.asarray(refs.image_ids, dtype=np.int64), texts, settings,
                       refs.source, [str(path) for path in refs.image_paths], identity_parts=parts)

    def flabel_texts(self, name: str | None, args: argparse.Namespace) -> tuple[str, list[str], dict]:
        """The box texts (``--flabel-text box``) or the expressions (``expression``), one per sample."""
        if args.flabel_text not in FLABEL_TEXTS:
            raise ValueError(f"--flabel-text must be one of {', '.join(FLABEL_TEXTS)}, got {args.flabel_text!r}")
        samples = self.load_samples(name, args)
        texts = samples.texts if args.flabel_text == "box" else samples.items.expressions
        return samples.name, list(texts), {**samples.settings, "flabel_text": args.flabel_text,
                                           "data": samples.identity(self.flabel_kind)}

    def box_flabels(self, name: str | None, args: argparse.Namespace) -> tuple[str, np.ndarray, dict]:
        """(dataset, (N, 4) normalised gold boxes, settings with the data identity) for Label_embedding/box.py."""
        samples = self.load_samples(name, args)
        table = np.asarray(samples.items.normalised_boxes(), dtype=np.float32)
        return samples.name, table, {**samples.settings, "data": samples.identity(self.flabel_kind)}

    # ----- models -------------------------------------------------------------------------------------
    def zoo_models(self, zoo: str) -> list[str]:
        from pipeline.grounding_models import zoo_models

        return zoo_models(zoo)

    def stored_names(self, zoo: str) -> list[str]:
        from pipeline.grounding_models import stored_names

        return [stored for model in super().stored_names(zoo) for stored in stored_names(model)]

    def candidate(self, model: str, args: argparse.Namespace) -> Candidate:
        from pipeline import grounding_models as gm

        image_size = getattr(args, "image_size", None)
        if image_size is not None and image_size < 1:
            raise ValueError(f"--image-size must be a positive number of pixels (or none), got {image_size}")
        if model in gm.DUAL_MODELS:
            pretrained = getattr(args, "pretrained", True)
            settings = gm.dual_settings(model, image_size, pretrained)

            def load_dual() -> FeatureModel:
                module, inputs, collate = gm.load_dual_encoder(model, image_size, pretrained)
                return FeatureModel(module, lambda batch: (module(**batch[0]), {}), inputs, collate=collate)

            return Candidate(model, tuple(gm.stored_names(model)),
                             lambda stored: {**settings, "layer": f"depth {stored.split('_')[-2]}"}, load_dual)
        checkpoint = hub.checkpoint_source(model, getattr(args, "checkpoint_dir", None))

        def load() -> FeatureModel:
            module, collate, family, meta = gm.load_grounding_model(model, getattr(args, "checkpoint_dir", None))
            return FeatureModel(module, lambda batch: ({model: module(*batch)}, {}),
                                lambda samples: gm.GroundingInputs(samples.items, family), collate=collate, meta=meta)

        return Candidate(model, (model,), lambda stored: {"weights": checkpoint}, load)

    # ----- hints --------------------------------------------------------------------------------------
    @staticmethod
    def _where(dataset: str, meta: dict) -> dict:
        return {"dataset-dir": meta["dataset_dir"]} if meta.get("dataset_dir") else {"datasets": dataset}

    def stage1_command(self, dataset: str, models: Sequence[str], stored_meta: dict | None) -> str:
        from pipeline.grounding_models import model_of_stored

        meta = stored_meta or {}
        networks = list(dict.fromkeys(model_of_stored(m) for m in models))
        return command(self.stage1_script, {"models": networks, **self._where(dataset, meta),
                                            "split": meta.get("split"), "split-by": meta.get("split_by"),
                                            "max-samples": meta.get("max_samples"),
                                            "image-size": meta.get("input_size") if "network" in meta else None})

    def stage2_command(self, dataset: str, stored_meta: dict | None) -> str:
        meta = stored_meta or {}
        return command(self.stage2_scripts["bert"], {"task": self.name, **self._where(dataset, meta),
                                                     "split": meta.get("split"), "split-by": meta.get("split_by"),
                                                     "max-samples": meta.get("max_samples")})


def run_box_flabels(constants: Mapping, argv=None) -> int:
    """Label_embedding/box.py: the numeric box F-label ``(x1/W, y1/H, x2/W, y2/H)`` of every sample, stored as the
    per-sample F-labels of encoder ENCODER_NAME (``box``) with the data identity stage 3 compares."""
    from pipeline import cli
    from pipeline.store import SettingsMismatchError, Store, check_compatible

    task, args = cli.parse_task(constants, constants.get("__doc__"), argv)
    if not hasattr(task, "box_flabels"):
        print(f"error: task {task.name!r} has no boxes; box F-labels are for --task rec", file=sys.stderr)
        return 2
    store, name, failed = Store(args.results), args.encoder_name or BOX_ENCODER, []
    for dataset_arg in task.dataset_args(args):
        try:
            dataset, table, settings = task.box_flabels(dataset_arg, args)
        except (FileNotFoundError, ValueError) as error:
            print(f"skipped {dataset_arg or 'the given dataset'}: {error}", file=sys.stderr)
            failed.append(str(dataset_arg))
            continue
        settings = {**settings, "format": BOX_FORMAT, "task": task.name}
        if store.has_flabels(dataset, name, FlabelKind.SAMPLE) and not args.overwrite:
            stored = store.load_flabels(dataset, name, FlabelKind.SAMPLE)[1]
            if stored.get("data") == settings["data"]:
                try:
                    check_compatible(stored, settings, f"box F-labels {name!r} on {dataset!r}")
                except SettingsMismatchError as error:
                    print(f"error: {error}", file=sys.stderr)
                    return 2
                print(f"{dataset}: box F-labels already in {store.flabel_paths(dataset, name, 'sample')['flabel']} "
                      "(--overwrite to make them again)")
                continue
        started = time.perf_counter()
        path = store.save_flabels(dataset, name, FlabelKind.SAMPLE, table,
                                  {**settings, "encoder": name, "texts": len(table),
                                   "seconds": round(time.perf_counter() - started, 3)})["flabel"]
        print(f"{dataset}: wrote {path} {table.shape}")
    if failed:
        print(f"{len(failed)} dataset(s) could not be read: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


register(ReferringExpressions())
