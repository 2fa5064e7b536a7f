"""Stage 2 (referring expressions): the numeric F-label of each sample's gold box, ``(x1/W, y1/H, x2/W, y2/H)``,
stored as the per-sample F-labels of encoder ``box`` (``Label_embedding/box.py``), so that EMMS weighs this
geometric F-label with the text F-labels of the sentence encoders."""
from __future__ import annotations

import sys
import time
from typing import Mapping

from pipeline import stages
from pipeline.flabels.stage import OPTIONS as STAGE2_OPTIONS, script_of
from pipeline.kinds import FlabelKind
from pipeline.store import SettingsMismatchError, Store, check_compatible

BOX_ENCODER = "box"
BOX_FORMAT = "x1/W, y1/H, x2/W, y2/H (gold box corners normalised to the image size)"
OPTIONS = tuple(option for option in STAGE2_OPTIONS if option.name not in ("TEMPLATE", "BATCH_SIZE", "DEVICE"))


def parse(constants: Mapping, argv=None):
    return stages.parse(constants, argv, stage="stage 2", options=OPTIONS,
                        task_options=lambda task: [task.path_option, *task.options])


def run_box_flabels(constants: Mapping, argv=None) -> int:
    """Label_embedding/box.py: the numeric box F-label ``(x1/W, y1/H, x2/W, y2/H)`` of every sample, stored as the
    per-sample F-labels of encoder ENCODER_NAME (``box``) with the data identity stage 3 compares."""
    task, args = parse(constants, argv)
    if not hasattr(task, "box_flabels"):
        print(f"error: task {task.name!r} has no boxes; box F-labels are for --task rec", file=sys.stderr)
        return 2
    store, name, failed = Store(args.results), args.encoder_name or BOX_ENCODER, []
    try:
        dataset_args = task.dataset_args(args)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for dataset_arg in dataset_args:
        try:
            dataset, table, settings = task.box_flabels(dataset_arg, args)
        except (FileNotFoundError, ValueError) as error:
            print(f"skipped {dataset_arg or args.dataset_dir}: {error}", file=sys.stderr)
            failed.append(str(dataset_arg or args.dataset_dir))
            continue
        settings = {**settings, "format": BOX_FORMAT, "task": task.name, "script": script_of(constants)}
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
