"""Stage 1 of every task: the settings every stage-1 script shares, declared once, and the run itself."""
from __future__ import annotations

import os
import sys
import time

from typing import Mapping

from pipeline import defaults, stages
from pipeline.cli import Option
from pipeline.extract import distributed
from pipeline.extract.candidate import extract_candidate
from pipeline.extract.saving import ExtractResult
from pipeline.store import Store

OPTIONS = (
    Option("DATASETS", [], "datasets under DATA_ROOT; empty: the task's datasets of the paper"),
    Option("ZOO", None, "a zoo of the task; None: its default (its zoos: pipeline/tasks/<task>/)"),
    Option("MODELS", [], "model names (zoo members, folders under CHECKPOINT_DIR, paths, hub ids); empty: ZOO's"),
    Option("CHECKPOINT_DIR", None, "folder of local weights: <model>.pth, or one save_pretrained folder per model"),
    Option("BATCH_SIZE", 32, "samples per forward pass"),
    Option("NUM_WORKERS", 4, "DataLoader worker processes"),
    Option("DEVICE", defaults.DEVICE, "auto (CUDA when present, else CPU), cpu, cuda, cuda:1"),
    Option("AMP", False, "bf16 autocast"),
    Option("OVERWRITE", False, "redo models whose features exist"),
    Option("STRICT", False, "stop at the first unreadable sample (default: skip it, say so, count it in the meta)"),
    Option("DATA_ROOT", defaults.DATA_ROOT, "datasets live in DATA_ROOT/<name>/ (default: the repository's data/)"),
    Option("RESULTS", defaults.RESULTS, "the store (default: the repository's results/, wherever the script runs "
                                        "from)"),
)


def parse(constants: Mapping, argv=None):
    """(task, args) of a stage-1 script: its constants, :data:`OPTIONS` and the task's settings; no ZOO is the
    task's default zoo."""
    task, args = stages.parse(constants, argv, stage="stage 1", options=OPTIONS,
                              task_options=lambda task: [task.path_option, *task.options, *task.stage1_options])
    args.zoo = args.zoo or task.default_zoo
    return task, args


def main(constants: Mapping, argv=None) -> int:
    """A stage-1 script: parse its flags and run."""
    return run_stage1(*parse(constants, argv))


def run_stage1(task, args) -> int:
    """Stage 1 from parsed flags: every dataset of the run, every model of ZOO (or MODELS); prints what it
    wrote. Exit status 0 when every model ran or was skipped, 1 when some failed (each failure is printed; the
    others still run)."""
    from pipeline.store import SettingsMismatchError

    launch = distributed.start(args.device)  # under torchrun: join the process group; other ranks print nothing
    store = Store(args.results)
    try:
        check_arguments(args)
        if launch is not None and getattr(args, "download", False):
            raise ValueError("--download under torchrun would make every process download the dataset: download "
                             "it once in a plain run (python forward_feature_CNN.py --download ...), then launch")
        models = list(args.models) or task.zoo_models(args.zoo)
        store.check_writable()
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 2
    failures: list[str] = []
    started = time.perf_counter()
    for name in task.dataset_args(args):
        label = name or "the given dataset"
        try:
            samples = task.load_samples(name, args)
        except (FileNotFoundError, ValueError) as error:
            print(f"[{label}] skipped: {error}", flush=True)
            failures.append(f"{label}: dataset")
            continue
        print(f"[{samples.name}] {len(samples)} samples, {_settings_line(samples.settings)}", flush=True)
        extra = {"zoo": args.zoo, "task": task.name, **_given_path(args),
                 "checkpoint_dir": os.path.abspath(args.checkpoint_dir) if args.checkpoint_dir else None}
        for model in models:
            try:
                result = extract_candidate(task.candidate(model, args), samples, store, batch_size=args.batch_size,
                                           num_workers=args.num_workers, device=args.device, amp=args.amp,
                                           overwrite=args.overwrite, strict=getattr(args, "strict", False),
                                           flabel_kind=task.flabel_kind, extra_meta=extra)
            except (RuntimeError, SettingsMismatchError, ValueError, FloatingPointError, OSError) as error:
                print(f"[{samples.name}] {model}: FAILED: {error}", flush=True)
                failures.append(f"{samples.name}: {model}")
                continue
            _report(samples.name, result, store)
    print(f"done in {time.perf_counter() - started:.1f} s; features under {store.root / 'features'}"
          + (f"; {len(failures)} failed: {', '.join(failures)}" if failures else ""), flush=True)
    return 1 if failures else 0


def check_arguments(args) -> None:
    """The numeric flags every stage-1 script shares, checked before any work (one line each, no traceback)."""
    for flag, least in (("batch_size", 1), ("num_workers", 0), ("image_size", 1), ("max_samples", 1)):
        value = getattr(args, flag, None)
        if value is not None and (not isinstance(value, int) or value < least):
            allowed = "none (each model's own) or " if flag == "image_size" else ""
            raise ValueError(f"--{flag.replace('_', '-')} must be {allowed}an integer of at least {least}, "
                             f"got {value!r}")


def _given_path(args) -> dict:
    """The dataset's path as an absolute path and as the user typed it (a hint repeats the typed one where it still
    names the same folder)."""
    path = getattr(args, "dataset_dir", None)
    if path is None:
        return {"dataset_dir": None}
    return {"dataset_dir": os.path.abspath(os.fspath(path)), "dataset_dir_as_given": os.fspath(path)}


def _settings_line(settings: dict) -> str:
    return ", ".join(f"{key} {value}" for key, value in settings.items() if value is not None)


def _report(dataset: str, result: ExtractResult, store: Store) -> None:
    for stored in result.skipped:
        print(f"[{dataset}] {stored}: already there, skipped (--overwrite to redo)", flush=True)
    for message in result.damaged:
        print(f"[{dataset}] {message}: extracting again", flush=True)
    for stored in result.redone:
        print(f"[{dataset}] {stored}: stored features were made from other data (files, classes or order "
              "changed): extracting again", flush=True)
    for sample in result.bad:
        print(f"[{dataset}] {result.model}: skipped {sample.sample}: {sample.error}", flush=True)
    for stored in result.written:
        meta = store.features_meta(dataset, stored)
        probs = ", source probs" if meta.get("source_probs_saved") else ""
        unread = f", {len(result.bad)} unreadable sample(s) skipped" if result.bad else ""
        print(f"[{dataset}] {stored}: wrote {result.paths[stored]['feature']} ({meta['N']} x {meta['D']}"
              f"{probs}{unread}) in {result.seconds:.1f} s", flush=True)
