"""One candidate on one dataset: what is missing is computed (in this process, or in parts under torchrun) and
written; what is stored from the same data with the same settings is skipped."""
from __future__ import annotations

import time

import torch

from pipeline import defaults
from pipeline.extract import distributed
from pipeline.extract.loop import forward_samples, memory_format, pick_device
from pipeline.extract.saving import ExtractResult, requested_settings, save_candidate
from pipeline.kinds import FlabelKind
from pipeline.store import CorruptFileError, Store


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
