"""The one loop of stage 1: a DataLoader in fixed order, ``torch.inference_mode``, batches moved to the device,
optional bf16 autocast, a tqdm bar with the rate, and ``forward(batch)`` returning a dict ``{name: tensor (B, ...)}``
or a tuple of such dicts, gathered on the CPU as float32 arrays (:func:`run_batches`). It knows nothing of models
or files. :func:`forward_samples` runs one candidate over a range of a task's samples through it, skipping (and
naming) the samples that cannot be read.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Subset
from tqdm.auto import tqdm

from pipeline import defaults


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
