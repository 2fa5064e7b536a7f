"""Stage 1: run networks over a dataset and store what they see.

:func:`run_batches` is the one loop every extraction stage uses (image features here, caption features in
stage 1c): a DataLoader in fixed order, ``torch.inference_mode``, batches moved to the device, optional
bf16 autocast, a tqdm bar with the rate, and ``forward(batch) -> {name: tensor (B, ...)}`` whose outputs are
gathered on the CPU as float32 arrays. It knows nothing of models or files.

:func:`extract_model` runs one network of :mod:`pipeline.zoo` on an :class:`pipeline.datasets.ImageSet` and
writes, through :class:`pipeline.store.Store`, each candidate's ``<model>_feature.npy`` (float32 (N, D), row
i = sample i of the dataset's fixed order), ``<model>_label.npy`` and, where the network has a source head,
``<model>_source_probs.npy``; the meta file comes last and marks the set complete, so an interrupted run
leaves nothing a later stage reads. A candidate whose files exist is skipped (after checking that they were
made with the requested settings: :class:`pipeline.store.SettingsMismatchError` otherwise) unless
``overwrite``.
"""
from __future__ import annotations

import copy
import os
import platform
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from pipeline.store import Store

# The settings a stored feature set must share with a request to be reused (Store.check_settings).
SETTINGS_KEYS = ("split", "input_size", "weights", "layer", "max_samples", "subset")


def pick_device(device: str | None = None) -> torch.device:
    """'cuda' when present (else 'cpu') for None or 'auto'; otherwise the named device."""
    if device in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


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


def run_batches(forward: Callable[[object], dict[str, torch.Tensor]], loader: Iterable, *,
                device: torch.device, amp: bool = False, total: int | None = None, desc: str = "",
                batch_len: Callable[[object], int] | None = None) -> dict[str, np.ndarray]:
    """{name: float32 array (N, ...)}: `forward` applied to every batch (moved to `device`), outputs concatenated
    in loader order. ``amp``: bf16 autocast. ``batch_len`` counts the samples of a batch for the rate shown
    (default: length of its first element)."""
    device = torch.device(device)
    batch_len = batch_len or (lambda batch: len(batch[0]) if isinstance(batch, (list, tuple)) else len(batch))
    gathered: dict[str, list[np.ndarray]] = {}
    with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp), \
            tqdm(total=total, desc=desc, unit="img", dynamic_ncols=True, leave=False) as bar:
        for batch in loader:
            outputs = forward(to_device(batch, device))
            for name, value in outputs.items():
                gathered.setdefault(name, []).append(value.detach().float().cpu().numpy())
            bar.update(batch_len(batch))
    return {name: np.concatenate(parts) for name, parts in gathered.items()}


# ----- image features -------------------------------------------------------------------------------------
@dataclass
class ExtractResult:
    """What :func:`extract_model` did for one network on one dataset."""
    model: str
    written: list[str] = field(default_factory=list)   # candidates written
    skipped: list[str] = field(default_factory=list)   # candidates already complete with the same settings
    seconds: float = 0.0
    paths: dict = field(default_factory=dict)          # candidate -> {"feature", "label", "meta"} paths


def requested_settings(spec, candidate: str, dataset) -> dict:
    """The settings a candidate's stored meta must match (see SETTINGS_KEYS)."""
    meta = spec.meta(candidate)
    return {"split": dataset.split, "input_size": meta["input_size"], "weights": meta["weights"],
            "layer": meta["layer"], "max_samples": dataset.max_samples,
            "subset": dataset.subset}


def extract_model(spec, dataset, store: Store, *, store_dataset: str | None = None, batch_size: int = 64,
                  num_workers: int = 0, device: str | torch.device | None = None, amp: bool = False,
                  overwrite: bool = False, extra_meta: dict | None = None) -> ExtractResult:
    """Features of every candidate of `spec` (a :class:`pipeline.zoo.ModelSpec`) on `dataset` (an ImageSet),
    saved under ``store_dataset`` (default ``dataset.name``). Loads the network only if a candidate is missing
    (or ``overwrite``). Raises SettingsMismatchError before any work if stored files differ in settings."""
    name = store_dataset or dataset.name
    result = ExtractResult(spec.name)
    todo = []
    for candidate in spec.candidates:
        if store.has_features(name, candidate) and not overwrite:
            store.check_settings(name, candidate, requested_settings(spec, candidate, dataset))
            result.skipped.append(candidate)
        else:
            todo.append(candidate)
    if not todo:
        return result

    device = pick_device(device)
    started = time.perf_counter()
    extractor = spec.load()
    module = extractor.module.to(device).eval()
    view = copy.copy(dataset)  # the same samples, with this network's preprocessing
    view.transform = extractor.transform
    loader = make_loader(view, batch_size, num_workers, device)
    outputs = run_batches(lambda batch: module(batch[0]), loader, device=device, amp=amp, total=len(view),
                          desc=f"{spec.name} on {name}")
    seconds = time.perf_counter() - started

    from pipeline.zoo import PROBS_PREFIX

    for candidate in todo:
        features = outputs[candidate]
        if not np.isfinite(features).all():
            raise FloatingPointError(f"{candidate} gave non-finite features on {name}; nothing was written "
                                     "(try without --amp)")
        meta = {**spec.meta(candidate), **requested_settings(spec, candidate, dataset), **(extra_meta or {}),
                "seconds": round(seconds, 3), "batch_size": batch_size, "device": str(device), "amp": bool(amp),
                "versions": versions(), "network": spec.name}
        paths = store.feature_paths(name, candidate)
        paths["meta"].unlink(missing_ok=True)  # the old set is incomplete from here on
        probs_path = store.source_probs_path(name, candidate)
        probs = outputs.get(PROBS_PREFIX + candidate)
        if probs is not None:
            store.save_source_probs(name, candidate, probs)
        else:
            probs_path.unlink(missing_ok=True)  # a stale file from another model must not be read as this one's
        meta["source_probs_saved"] = probs is not None
        result.paths[candidate] = store.save_features(name, candidate, features, dataset.labels, meta)
        result.written.append(candidate)
    result.seconds = seconds
    return result


def versions() -> dict:
    import torchvision

    found = {"python": platform.python_version(), "torch": torch.__version__, "torchvision": torchvision.__version__,
             "numpy": np.__version__}
    try:
        import timm

        found["timm"] = timm.__version__
    except ImportError:
        pass
    return found


# ----- the image stages (forward_feature_CNN.py, forward_feature_ViT.py) ----------------------------------
def run_image_stage(args) -> int:
    """Stage 1a/1b from parsed flags (see forward_feature_CNN.py); prints what it wrote. Exit status: 0 when
    every model ran or was skipped, 1 when some failed (each failure is printed; the others still run)."""
    from pipeline import datasets, zoo
    from pipeline.store import SettingsMismatchError

    store = Store(args.results)
    names = [None] if args.dataset_dir else list(args.datasets)
    models = list(args.models) or zoo.zoo_models(args.zoo)
    failures: list[str] = []
    started = time.perf_counter()
    for name in names:
        label = datasets.dataset_name(name, args.dataset_dir)
        try:
            dataset = datasets.load_dataset(name, data_root=args.data_root, dataset_dir=args.dataset_dir,
                                            split=args.split, download=args.download, max_samples=args.max_samples)
        except (datasets.DatasetNotFoundError, ValueError) as error:
            print(f"[{label}] skipped: {error}", flush=True)
            failures.append(f"{label}: dataset")
            continue
        print(f"[{label}] {len(dataset)} images, {len(dataset.classes)} classes, split {dataset.split}"
              + (f", {dataset.subset}" if dataset.subset else ""), flush=True)
        for model in models:
            try:
                spec = zoo.model_spec(model, pretrained=args.pretrained, image_size=args.image_size,
                                      checkpoint=zoo.find_checkpoint(args.checkpoint_dir, model))
                result = extract_model(spec, dataset, store, store_dataset=label, batch_size=args.batch_size,
                                       num_workers=args.num_workers, device=args.device, amp=args.amp,
                                       overwrite=args.overwrite,
                                       extra_meta={"dataset_dir": args.dataset_dir, "zoo": args.zoo})
            except (zoo.WeightsUnavailableError, SettingsMismatchError, ValueError, FloatingPointError) as error:
                print(f"[{label}] {model}: FAILED: {error}", flush=True)
                failures.append(f"{label}: {model}")
                continue
            _report(label, result, store)
    print(f"done in {time.perf_counter() - started:.1f} s; features under {store.root / 'features'}"
          + (f"; {len(failures)} failed: {', '.join(failures)}" if failures else ""), flush=True)
    return 1 if failures else 0


def _report(dataset: str, result: ExtractResult, store: Store) -> None:
    for candidate in result.skipped:
        print(f"[{dataset}] {candidate}: already there, skipped (--overwrite to redo)", flush=True)
    for candidate in result.written:
        meta = store.features_meta(dataset, candidate)
        probs = ", source probs" if meta.get("source_probs_saved") else ""
        print(f"[{dataset}] {candidate}: wrote {result.paths[candidate]['feature']} ({meta['N']} x {meta['D']}"
              f"{probs}) in {result.seconds:.1f} s", flush=True)
