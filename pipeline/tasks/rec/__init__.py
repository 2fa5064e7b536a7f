"""Referring expression comprehension: (image, expression, box) samples, one feature row and one F-label row each.

Datasets: a ``refs.jsonl`` table or RefCOCO/RefCOCO+/RefCOCOg in the refer toolkit's layout
(:mod:`pipeline.tasks.rec.data`). Candidates: grounding models (OWL-ViT, OWLv2, Grounding DINO) and the offline dual
encoders ``efficientnet_lite_minilm`` (:mod:`pipeline.tasks.rec.models`); the feature of a sample is the model's
representation of the gold object joined with the expression's. The label of a row is the index of its image.

Stage 2 embeds one text per sample, by ``--flabel-text``: ``box`` (default), the gold box as text, its corners
normalised to the image size with two decimals, ``"x1=0.12 y1=0.40 x2=0.55 y2=0.98"``
(:func:`pipeline.tasks.rec.data.box_text`); ``expression``, the referring expression.
``Label_embedding/box.py`` writes the
numeric F-label of the box itself, ``(x1/W, y1/H, x2/W, y2/H)`` per sample (encoder name ``box``), so EMMS
combines text and geometric F-labels. Stage 3 runs the metrics that take real-valued targets (EMMS, LogME).
"""
from __future__ import annotations

import argparse

import numpy as np

from pipeline.cli import Option
from pipeline.kinds import FlabelKind
from pipeline.models import hub, names
from pipeline.tasks.base import Candidate, FeatureModel, Samples, Task, Zoo, register, register_zoo

FLABEL_TEXTS = ("box", "expression")
DUAL_SUFFIX = "_minilm"   # a dual encoder is <EfficientNet-Lite network>_minilm, stored as <candidate>_minilm


class ReferringExpressions(Task):
    name = "rec"
    flabel_kind = FlabelKind.SAMPLE
    datasets = ("refcoco", "refcoco+", "refcocog")
    stage1_script = "forward_feature_rec.py"
    stage2_scripts = {"clip": "Label_embedding/clip_sentence.py", "bert": "Label_embedding/bert_sentence.py",
                      "gpt2": "Label_embedding/gpt2_sentence.py", "box": "Label_embedding/box.py"}
    measure = "Acc@0.5 after fine-tuning (share of expressions whose top box has IoU >= 0.5 with the gold box)"
    path_option = Option("DATASET_DIR", None, "a folder holding refs.jsonl or refs(unc|umd|google).p + "
                                              "instances.json (or a .jsonl file); replaces DATASETS")
    options = (
        Option("SPLIT", "train", "train, val, test, testA, testB or all (a refs.jsonl row without split is train)"),
        Option("SPLIT_BY", None, "refer toolkit split file: unc, umd or google (None: the first present, in that "
                                 "order)", str),
        Option("IMAGE_DIR", None, "COCO train2014/ folder for the refer toolkit layout (None: looked for)"),
        Option("MAX_SAMPLES", None, "None: all samples; N: the first N of the fixed order", int),
        Option("FLABEL_TEXT", "box", "stage 2 text per sample: box ('x1=0.12 y1=0.40 x2=0.55 y2=0.98', corners "
                                     "over the image size) or expression"),
    )
    stage1_options = (
        Option("IMAGE_SIZE", None, "dual encoders: side of the resized whole image (None: the network's native "
                                   "size)", int, meta_key="input_size"),
        Option("PRETRAINED", True, "dual encoders: false = a random-init image network (tests)"),
    )

    # ----- datasets -----------------------------------------------------------------------------------
    def name_of_path(self, path) -> str:
        from pipeline.tasks.rec.data import dataset_name_of

        return dataset_name_of(path)

    def load_samples(self, name: str | None, args: argparse.Namespace) -> Samples:
        from pipeline.tasks.rec.data import box_text, load_refs

        refs = load_refs(name, data_root=args.data_root, dataset_dir=args.dataset_dir, split=args.split,
                         split_by=args.split_by, image_dir=args.image_dir, max_samples=args.max_samples,
                         strict=getattr(args, "strict", False))
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
    def stored_names(self, model: str) -> list[str]:
        variant = _dual_variant(model)
        return [f"{candidate}{DUAL_SUFFIX}" for candidate in names.candidate_names(variant)] if variant else [model]

    def candidate(self, model: str, args: argparse.Namespace) -> Candidate:
        from pipeline.tasks.rec import models

        if args.image_size is not None and args.image_size < 1:
            raise ValueError(f"--image-size must be a positive number of pixels (or none), got {args.image_size}")
        variant = _dual_variant(model)
        if variant:
            stored = self.stored_names(model)
            settings = {**models.dual_settings(variant, args.image_size, args.pretrained), "network": model,
                        "pretrained": args.pretrained}
            depth_of = dict(zip(stored, names.DEPTHS))

            def load_dual() -> FeatureModel:
                module, inputs, collate = models.load_dual_encoder(variant, stored, args.image_size, args.pretrained)
                return FeatureModel(module, lambda batch: (module(**batch[0]), {}), inputs, collate=collate)

            return Candidate(model, tuple(stored), lambda name: {**settings, "layer": f"depth {depth_of[name]}"},
                             load_dual)
        checkpoint = hub.checkpoint_source(model, args.checkpoint_dir)

        def load() -> FeatureModel:
            module, collate, family, meta = models.load_grounding_model(model, args.checkpoint_dir)
            return FeatureModel(module, lambda batch: ({model: module(*batch)}, {}),
                                lambda samples: models.GroundingInputs(samples.items, family), collate=collate,
                                meta=meta)

        return Candidate(model, (model,), lambda stored: {"weights": checkpoint, "network": model}, load)


def _dual_variant(model: str) -> str | None:
    """The EfficientNet-Lite network of a dual-encoder name ('efficientnet_lite0_minilm'), else None."""
    variant = model[: -len(DUAL_SUFFIX)] if model.endswith(DUAL_SUFFIX) else None
    return variant if variant in names.EFFICIENTNET_LITE else None


register(ReferringExpressions())
register_zoo(Zoo("rec_efficientnet_lite_minilm", "rec",
                 tuple(f"{network}{DUAL_SUFFIX}" for network in names.EFFICIENTNET_LITE),
                 "EfficientNet-Lite0/1/2 (three depths each), RoI-pooled in the gold box, joined with the bundled "
                 "all-MiniLM-L6-v2 (offline)", "forward_feature_rec.py", aliases=("efficientnet_lite_minilm",),
                 default=True))
register_zoo(Zoo("grounding", "rec", ("google/owlvit-base-patch32", "google/owlvit-base-patch16",
                                      "google/owlvit-large-patch14", "google/owlv2-base-patch16-ensemble",
                                      "IDEA-Research/grounding-dino-tiny", "IDEA-Research/grounding-dino-base"),
                 "OWL-ViT, OWLv2 and Grounding DINO (hub ids)", "forward_feature_rec.py"))
