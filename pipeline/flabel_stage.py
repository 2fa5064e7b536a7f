"""Stage 2 driver shared by the six ``Label_embedding/*.py`` scripts (they only hold constants).

``run_class_stage``: for each dataset, the class names in label order (``pipeline.datasets.class_names``),
cleaned and put into the template (``pipeline.flabels.class_prompts``), embedded by one encoder and
stored as ``results/flabels/<dataset>/<encoder>_class.npy`` (C, d).
``run_caption_stage``: for each caption dataset, its captions in the fixed order of
``pipeline.captions.load_captions`` (the order stage 1c stores features in), stored as
``<encoder>_caption.npy`` (N, d).

A finished table is skipped on a re-run (unless stored with another template or caption subset: then
SettingsMismatchError says to pass --overwrite); ``--overwrite`` encodes again and replaces the files
atomically. The encoder is loaded only if some table has to be made. A dataset whose files are missing
is reported and the others still run; the exit status is then 1.
"""
from __future__ import annotations

import sys
import time
from typing import Callable, Mapping

from pipeline import cli
from pipeline.flabels import EncoderUnavailableError, class_prompts, encoder_name, load_encoder
from pipeline.store import SettingsMismatchError, Store

# Keys of the stored meta that must match the request for a finished table to count as done.
_SETTINGS = ("template", "split", "max_per_image", "max_samples")


def run_class_stage(constants: Mapping, *, backend: str, argv=None) -> int:
    """Class-name F-labels for every dataset in DATASETS (or the one folder --dataset-dir)."""
    from pipeline.datasets import class_names, dataset_name

    args = cli.parse(constants, constants.get("__doc__"), argv)
    names = [None] if args.dataset_dir else list(args.datasets)

    def texts_of(name):
        dataset = dataset_name(name, args.dataset_dir)
        classes = class_names(name, data_root=args.data_root, dataset_dir=args.dataset_dir, split=args.split)
        texts = class_prompts(classes, args.template)
        return dataset, texts, {"template": args.template, "split": args.split, "class_texts": texts}

    return _run(args, backend, "class", names, texts_of)


def run_caption_stage(constants: Mapping, *, backend: str, argv=None) -> int:
    """Caption F-labels for every caption dataset in DATASETS (or the one table --caption-file)."""
    from pipeline.captions import load_captions

    args = cli.parse(constants, constants.get("__doc__"), argv)
    names = [None] if args.caption_file else list(args.datasets)

    def texts_of(name):
        captions = load_captions(name, data_root=args.data_root, caption_file=args.caption_file, split=args.split,
                                 max_per_image=args.max_per_image, max_samples=args.max_samples)
        settings = {"template": "{}", "split": captions.split, "max_per_image": args.max_per_image,
                    "max_samples": args.max_samples, "source": captions.source}
        return captions.name, captions.captions, settings

    return _run(args, backend, "caption", names, texts_of)


def _run(args, backend: str, kind: str, names: list, texts_of: Callable) -> int:
    started = time.perf_counter()
    store = Store(args.results)
    pretrained = getattr(args, "pretrained", None)
    name = args.encoder_name or encoder_name(backend, args.model, pretrained)
    encoder = None
    failed = []
    try:
        for dataset_arg in names:
            try:
                dataset, texts, settings = texts_of(dataset_arg)
            except (FileNotFoundError, ValueError) as error:  # not downloaded or unknown: say so, do the others
                print(f"skipped {dataset_arg or args.dataset_dir or args.caption_file}: {error}", file=sys.stderr)
                failed.append(dataset_arg)
                continue
            if store.has_flabels(dataset, name, kind) and not args.overwrite:
                _check_settings(store, dataset, name, kind, settings)
                print(f"{dataset}: {kind} F-labels of {name} already in {store.flabel_paths(dataset, name, kind)['flabel']}"
                      " (--overwrite to make them again)")
                continue
            encoder = encoder or load_encoder(backend, args.model, pretrained=pretrained, name=name,
                                              device=args.device, batch_size=args.batch_size)
            start = time.perf_counter()
            flabels = encoder.encode(texts)
            seconds = time.perf_counter() - start
            meta = {**encoder.meta(), **settings, "texts": len(texts), "truncated": encoder.last_truncated,
                    "seconds": round(seconds, 3)}
            path = store.save_flabels(dataset, name, kind, flabels, meta)["flabel"]
            print(f"{dataset}: wrote {path} {flabels.shape} in {seconds:.1f} s")
    except (EncoderUnavailableError, SettingsMismatchError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"stage 2 ({kind} F-labels of {name}) finished in {time.perf_counter() - started:.1f} s")
    if failed:
        print(f"{len(failed)} dataset(s) could not be read: {', '.join(map(str, failed))}", file=sys.stderr)
        return 1
    return 0


def _check_settings(store: Store, dataset: str, name: str, kind: str, settings: dict) -> None:
    _, meta = store.load_flabels(dataset, name, kind)
    differing = {key: (meta[key], settings[key]) for key in _SETTINGS if key in meta and key in settings
                 and meta[key] != settings[key]}
    if differing:
        detail = ", ".join(f"{key}: stored {old!r}, requested {new!r}" for key, (old, new) in differing.items())
        raise SettingsMismatchError(f"{kind} F-labels of {name!r} on {dataset!r} were made with other settings "
                                    f"({detail}); pass --overwrite to replace them, or use another --results folder")
