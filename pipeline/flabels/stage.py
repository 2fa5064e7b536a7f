"""Stage 2 of every task, shared by the ``Label_embedding/*.py`` scripts (they only hold constants).

For each dataset, the task gives the texts in its fixed order (:meth:`pipeline.tasks.Task.flabel_texts`): the
class names for a task of F-label kind ``class`` (cleaned and put into TEMPLATE,
:func:`pipeline.models.text.class_prompts`), one text per sample for kind ``sample`` (a caption, an answer). One
encoder embeds them into ``results/flabels/<dataset>/<encoder>_<kind>.npy``, with the settings in
``<encoder>_meta.json``.

A finished table is skipped on a re-run when it was made from the same data (the task's data identity: the
class names, or the fingerprint of the sample list) with the same settings; made from other data, it is made
again (said in one line); with other settings, SettingsMismatchError says to pass --overwrite.
``--overwrite`` encodes again and replaces the files atomically. The encoder is loaded only if
some table has to be made. A dataset whose files are missing is reported and the others still run (exit 1).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Mapping

from pipeline import defaults, stages
from pipeline.cli import Option
from pipeline.kinds import FlabelKind
from pipeline.models.text import EncoderUnavailableError, class_prompts, encoder_name, load_encoder
from pipeline.store import SettingsMismatchError, Store, check_compatible

OPTIONS = (
    Option("DATASETS", [], "datasets under DATA_ROOT; empty: the task's datasets of the paper"),
    Option("ENCODER_NAME", None, "name in the file names; None: from the model"),
    Option("TEMPLATE", "{}", "class F-labels: the prompt around the cleaned class name, e.g. 'a photo of a {}.'"),
    Option("BATCH_SIZE", 128, "texts per forward pass"),
    Option("DEVICE", defaults.DEVICE, "auto (CUDA when present, else CPU), cpu, cuda, cuda:1"),
    Option("OVERWRITE", False, "make finished tables again"),
    Option("STRICT", False, "stop at the first bad row of a dataset (default: name it, skip it, count it)"),
    Option("DATA_ROOT", defaults.DATA_ROOT, "datasets live in DATA_ROOT/<name>/ (default: the repository's data/)"),
    Option("RESULTS", defaults.RESULTS, "the store (default: the repository's results/)"),
)


def parse(constants: Mapping, argv=None):
    """(task, args) of a stage-2 script: its constants, :data:`OPTIONS` and the task's dataset settings."""
    return stages.parse(constants, argv, stage="stage 2", options=OPTIONS,
                        task_options=lambda task: [task.path_option, *task.options])


def script_of(constants: Mapping) -> str | None:
    """The stage script that runs, relative to the repository (recorded, so that a hint can run it again)."""
    path = constants.get("__file__")
    if not path:
        return None
    try:
        return Path(path).resolve().relative_to(defaults.REPO_ROOT).as_posix()
    except ValueError:
        return str(path)


def run_stage2(constants: Mapping, *, backend: str, argv=None) -> int:
    """F-labels of every dataset in DATASETS (or the one dataset given by path) for the script's TASK."""
    task, args = parse(constants, argv)
    started = time.perf_counter()
    store = Store(args.results)
    try:
        store.check_writable()
        dataset_args = task.dataset_args(args)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    kind = task.flabel_kind
    pretrained = getattr(args, "pretrained", None)
    name = args.encoder_name or encoder_name(backend, args.model, pretrained)
    encoder = None
    failed = []
    try:
        for dataset_arg in dataset_args:
            try:
                dataset, texts, settings = task.flabel_texts(dataset_arg, args)
            except (FileNotFoundError, ValueError) as error:  # not downloaded or unknown: say so, do the others
                print(f"skipped {dataset_arg or args.dataset_dir}: {error}", file=sys.stderr)
                failed.append(dataset_arg or args.dataset_dir)
                continue
            if kind is FlabelKind.CLASS:
                texts = class_prompts(texts, args.template)
                settings = {**settings, "template": args.template, "class_texts": texts}
            if store.has_flabels(dataset, name, kind) and not args.overwrite:
                stored = store.load_flabels(dataset, name, kind)[1]
                if stored.get("data") == settings["data"]:
                    check_compatible(stored, settings, f"{kind.value} F-labels of {name!r} on {dataset!r}")
                    print(f"{dataset}: {kind.value} F-labels of {name} already in "
                          f"{store.flabel_paths(dataset, name, kind)['flabel']} (--overwrite to make them again)")
                    continue
                print(f"{dataset}: stored {kind.value} F-labels of {name} were made from other data (classes, "
                      "samples or order changed): making them again")
            encoder = encoder or load_encoder(backend, args.model, pretrained=pretrained, name=name,
                                              device=args.device, batch_size=args.batch_size)
            start = time.perf_counter()
            flabels = encoder.encode(texts)
            seconds = time.perf_counter() - start
            meta = {**encoder.meta(), **settings, "task": task.name, "script": script_of(constants),
                    "texts": len(texts), "truncated": encoder.last_truncated, "seconds": round(seconds, 3)}
            path = store.save_flabels(dataset, name, kind, flabels, meta)["flabel"]
            print(f"{dataset}: wrote {path} {flabels.shape} in {seconds:.1f} s")
    except (EncoderUnavailableError, SettingsMismatchError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"stage 2 ({kind.value} F-labels of {name}, task {task.name}) finished in "
          f"{time.perf_counter() - started:.1f} s")
    if failed:
        print(f"{len(failed)} dataset(s) could not be read: {', '.join(map(str, failed))}", file=sys.stderr)
        return 1
    return 0

