"""Stage 1 of every task: run the candidates over a dataset's samples and store what they see.

:func:`run_batches` is the one loop: a DataLoader in fixed order, ``torch.inference_mode``, batches moved to
the device, optional bf16 autocast, a tqdm bar with the rate, and ``forward(batch)`` returning a dict
``{name: tensor (B, ...)}`` or a tuple of such dicts, gathered on the CPU as float32 arrays. It knows nothing of
models or files.

:func:`extract_candidate` runs one :class:`pipeline.tasks.Candidate` on a task's
:class:`pipeline.tasks.Samples` and writes, through :class:`pipeline.store.Store`, each stored name's
``<model>_feature.npy`` (float32 (N, D), row i = sample i of the fixed order), ``<model>_label.npy`` and, where
the candidate has a source head, ``<model>_source_probs.npy``; the meta file comes last and marks the set
complete, so an interrupted run leaves nothing a later stage reads. A stored name whose files exist is skipped
(after checking that they were made with the requested settings: :class:`pipeline.store.SettingsMismatchError`
otherwise) unless ``overwrite``. :func:`run_stage1` is the stage script of every task. Under ``torchrun``,
each process runs its part of the samples and rank 0 joins the parts (:mod:`pipeline.distributed`).
"""
from __future__ import annotations

import os
import platform
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Subset
from tqdm.auto import tqdm

from pipeline import defaults, distributed
from pipeline.store import CorruptFileError, Store
from pipeline.tasks.base import FlabelKind


def pick_device(device: str | None = defaults.DEVICE) -> torch.device:
    """The torch device of a DEVICE setting ('auto': CUDA when present, else the CPU)."""
    return torch.device(defaults.resolve_device(device))


def make_loader(dataset: Dataset, batch_size: int, num_workers: int = 0, device: torch.device | None = None,
                collate_fn: Callable | None = None) -> DataLoader:
    """Fixed order (no shuffling), all samples (no dropped last batch); at most one worker per usable CPU."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    num_workers = max(0, min(num_workers, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                             else os.cpu_count() or 1))
    return DataLoader(dataset, batch_size=batch_size, shuffle=False, drop_last=False, num_workers=num_workers,
                      pin_memory=device is not None and device.type == "cuda", collate_fn=collate_fn,
                      persistent_workers=False)


def to_device(batch, device: torch.device):
    """Tensors (also inside tuples, lists and dicts) moved to `device`; anything else as it is."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(item, device) for item in batch)
    if isinstance(batch, dict):
        return {key: to_device(value, device) for key, value in batch.items()}
    return batch


def run_batches(forward: Callable[[object], dict | tuple[dict, ...]], loader: Iterable, *,
                device: torch.device, amp: bool = False, total: int | None = None, desc: str = "",
                batch_len: Callable[[object], int] | None = None) -> dict | tuple[dict, ...]:
    """`forward` applied to every batch (moved to `device`), its outputs concatenated in loader order as float32
    arrays: ``{name: (N, ...)}`` for a forward returning a dict, a tuple of such dicts for one returning a tuple.
    ``amp``: bf16 autocast. ``batch_len`` counts the samples of a batch for the rate shown (default: the length
    of its first element)."""
    device = torch.device(device)
    batch_len = batch_len or (lambda batch: len(batch[0]) if isinstance(batch, (list, tuple)) else len(batch))
    gathered: list[dict[str, list[np.ndarray]]] = []
    as_tuple = False
    with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp), \
            tqdm(total=total, desc=desc, unit="sample", dynamic_ncols=True, leave=False) as bar:
        for batch in loader:
            outputs = forward(to_device(batch, device))
            as_tuple = isinstance(outputs, tuple)
            outputs = outputs if as_tuple else (outputs,)
            gathered += [{} for _ in range(len(outputs) - len(gathered))]
            for part, named in zip(gathered, outputs):
                for name, value in named.items():
                    part.setdefault(name, []).append(value.detach().float().cpu().numpy())
            bar.update(batch_len(batch))
    joined = tuple({name: np.concatenate(arrays) for name, arrays in part.items()} for part in gathered)
    return joined if as_tuple else (joined[0] if joined else {})



# ----- samples that cannot be read ----------------------------------------------------------------------
# What a sample's reading may raise when its file is missing, empty, truncated or not an image.
UNREADABLE = (OSError, ValueError, SyntaxError)


@dataclass
class BadSample:
    """A sample that could not be read: where, and why (picklable, so it crosses DataLoader workers)."""
    index: int
    sample: str
    error: str


class _Guarded(Dataset):
    """(index, item) of a model's inputs, or (index, BadSample) where reading the item raised."""

    def __init__(self, inputs, samples):
        self.inputs, self.samples = inputs, samples

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, index: int):
        try:
            return index, self.inputs[index]
        except UNREADABLE as error:
            return index, BadSample(index, self.samples.describe(index), f"{type(error).__name__}: {error}")


class _GuardedCollate:
    """Batches of (indices read, collated batch or None, bad samples); picklable for DataLoader workers."""

    def __init__(self, collate: Callable | None):
        from torch.utils.data import default_collate

        self.collate = collate or default_collate

    def __call__(self, pairs):
        good = [(index, item) for index, item in pairs if not isinstance(item, BadSample)]
        bad = [item for _, item in pairs if isinstance(item, BadSample)]
        return [index for index, _ in good], (self.collate([item for _, item in good]) if good else None), bad


# ----- one candidate on one dataset ------------------------------------------------------------------------
@dataclass
class ExtractResult:
    """What :func:`extract_candidate` did for one candidate on one dataset."""
    model: str
    written: list[str] = field(default_factory=list)   # stored names written
    skipped: list[str] = field(default_factory=list)   # stored names already complete with the same settings
    redone: list[str] = field(default_factory=list)    # stored names whose data changed since: extracted again
    damaged: list[str] = field(default_factory=list)   # stored files that could not be read: extracted again
    bad: list[BadSample] = field(default_factory=list)  # samples that could not be read (skipped, counted)
    seconds: float = 0.0
    paths: dict = field(default_factory=dict)          # stored name -> {"feature", "label", "meta"} paths


def requested_settings(candidate, stored: str, samples) -> dict:
    """The settings a stored feature set must share with this request to be reused: the candidate's (weights,
    layer, input size, ...) and how the samples were chosen (split, max_samples, ...)."""
    return {**candidate.meta(stored), **samples.settings}


def extract_candidate(candidate, samples, store: Store, *, batch_size: int = 64, num_workers: int = 0,
                      device: str | torch.device | None = defaults.DEVICE, amp: bool = False, overwrite: bool = False,
                      strict: bool = False, flabel_kind: FlabelKind = FlabelKind.CLASS,
                      extra_meta: dict | None = None) -> ExtractResult:
    """Features of every stored name of `candidate` (a :class:`pipeline.tasks.Candidate`) on `samples`. Loads
    the model only if something is missing, was made from other data, or ``overwrite``. Raises
    SettingsMismatchError before any work if stored files differ in settings. A sample that cannot be read is
    skipped and recorded in the meta (``skipped_samples``), unless ``strict``: then the first one raises.
    ``flabel_kind``: the task's (the class names enter the recorded data identity of a CLASS task)."""
    result = ExtractResult(candidate.name)
    todo = []
    for stored in candidate.stored:
        try:
            meta = store.features_meta(samples.name, stored)
            if meta is not None:
                store.load_features(samples.name, stored)  # readable, not only present
        except CorruptFileError as error:
            result.damaged.append(f"{stored}: {error}")
            todo.append(stored)
            continue
        if meta is None or overwrite:
            todo.append(stored)
        elif meta.get("data", {}).get("fingerprint") != samples.fingerprint:
            result.redone.append(stored)  # the same settings on other data: not finished work
            todo.append(stored)
        else:
            store.check_settings(samples.name, stored, requested_settings(candidate, stored, samples))
            result.skipped.append(stored)
    if not todo:
        return result

    context = distributed.context(device)
    if context is not None:  # one of several processes of a torchrun launch: this rank's part, then the join
        return distributed.extract_sharded(context, candidate, samples, store, todo, result, batch_size=batch_size,
                                           num_workers=num_workers, device=device, amp=amp, overwrite=overwrite,
                                           strict=strict, flabel_kind=flabel_kind, extra_meta=extra_meta)
    device = pick_device(device)
    started = time.perf_counter()
    features, source_probs, kept, result.bad, loaded_meta = forward_samples(
        candidate, samples, range(len(samples)), batch_size=batch_size, num_workers=num_workers, device=device,
        amp=amp, strict=strict, desc=f"{candidate.name} on {samples.name}")
    result.seconds = time.perf_counter() - started
    save_candidate(candidate, samples, store, todo, features, source_probs, kept, result, loaded_meta=loaded_meta,
                   flabel_kind=flabel_kind, extra_meta=extra_meta,
                   run={"seconds": round(result.seconds, 3), "batch_size": batch_size, "device": str(device),
                        "amp": bool(amp), "memory_format": str(memory_format(device))})
    return result


def memory_format(device: torch.device) -> torch.memory_format:
    """The layout of the model's weights (convolutions follow their weights' layout): channels_last on the CPU,
    where it gave 1.02x (ResNet-50) and 1.24x (EfficientNet-Lite0) the images per CPU-second of the default
    layout with features within 4e-7 of their largest value (``bench/bench_extract.py --compare true``,
    ``bench/results/2026-12-01-extract-cpu.md``; the tests hold it to 1e-5); the default layout elsewhere. bf16
    autocast was faster still but moved features by 0.6-1.5%, so it stays opt-in (``--amp``)."""
    return torch.channels_last if device.type == "cpu" else torch.contiguous_format


def forward_samples(candidate, samples, indices: range, *, batch_size: int, num_workers: int, device: torch.device,
                    amp: bool, strict: bool, desc: str) -> tuple[dict, dict, list[int], list[BadSample], dict | None]:
    """(features, source_probs, indices read, samples that could not be read, the model's loaded meta) of
    `candidate` on the samples at `indices` (a range of the fixed order), in that order. The model is loaded only
    when there is a sample to run (loaded meta None otherwise)."""
    bad: list[BadSample] = []
    kept: list[int] = []
    if not len(indices):
        return {}, {}, kept, bad, None
    loaded = candidate.load()
    loaded.module.to(device, memory_format=memory_format(device)).eval()

    def forward(item):
        indices_read, batch, unread = item
        for sample in unread:
            if strict:
                raise ValueError(f"cannot read {sample.sample} of {samples.name}: {sample.error} (without --strict "
                                 "such samples are skipped and counted)")
            bad.append(sample)
        kept.extend(indices_read)
        return loaded.forward(batch) if batch is not None else ({}, {})

    guarded = _Guarded(loaded.inputs(samples), samples)
    dataset = guarded if len(indices) == len(samples) else Subset(guarded, indices)
    loader = make_loader(dataset, batch_size, num_workers, device, collate_fn=_GuardedCollate(loaded.collate))
    features, source_probs = run_batches(forward, loader, device=device, amp=amp, total=len(indices), desc=desc,
                                         batch_len=lambda item: len(item[0]) + len(item[2]))
    return features, source_probs, kept, bad, loaded.meta


def save_candidate(candidate, samples, store: Store, todo: list[str], features: dict, source_probs: dict,
                   kept: list[int], result: ExtractResult, *, loaded_meta: dict, flabel_kind: FlabelKind,
                   extra_meta: dict | None, run: dict) -> None:
    """Write the feature sets of the stored names `todo` (rows: the samples `kept`, in order), meta last; `run`:
    how they were made (seconds, batch size, device, ...). Fills ``result.paths`` and ``result.written``."""
    if not kept:
        raise ValueError(f"no sample of {samples.name} could be read ({len(result.bad)} tried; first: "
                         f"{result.bad[0].sample}: {result.bad[0].error})")
    for stored in todo:
        if not np.isfinite(features[stored]).all():
            raise FloatingPointError(f"{stored} gave non-finite features on {samples.name}; nothing was written "
                                     "(try without --amp)")
        meta = {**loaded_meta, **requested_settings(candidate, stored, samples), **(extra_meta or {}),
                "data": samples.identity(flabel_kind),
                "skipped_samples": [vars(sample) for sample in result.bad], **run, "versions": versions()}
        result.paths[stored] = store.save_features(samples.name, stored, features[stored], samples.labels[kept], meta,
                                                   source_probs=source_probs.get(stored))
        result.written.append(stored)


def versions() -> dict:
    import torchvision

    found = {"python": platform.python_version(), "torch": torch.__version__, "torchvision": torchvision.__version__,
             "numpy": np.__version__}
    for package in ("timm", "transformers"):
        try:
            found[package] = __import__(package).__version__
        except ImportError:
            pass
    return found


# ----- the stage script of every task ----------------------------------------------------------------------
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
        extra = {"zoo": args.zoo, "task": task.name, "dataset_dir": _given_path(args)}
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


def _given_path(args) -> str | None:
    path = getattr(args, "dataset_dir", None)
    return None if path is None else os.path.abspath(os.fspath(path))


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
