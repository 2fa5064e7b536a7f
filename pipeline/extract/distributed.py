"""Stage 1 across processes, GPUs and machines, launched with ``torchrun``.

Under ``torchrun`` (``RANK``, ``WORLD_SIZE`` > 1 and ``LOCAL_RANK`` in the environment) every rank joins one
process group (``nccl`` on CUDA, ``gloo`` on the CPU) and runs on its own device (``cuda:LOCAL_RANK``, or the
CPU). For one candidate on one dataset, :func:`extract_sharded`:

1. gives rank r the contiguous part ``[r N / W, (r + 1) N / W)`` of the fixed sample order (a
   ``torch.utils.data.Subset``: no sample twice, none padded in);
2. runs the candidate over it with the one stage-1 loop and writes the rank's *shard* (features and source
   probabilities of each stored name, the indices read, the samples that could not be read, and the shard's
   meta last) under the store's shard folder (:meth:`pipeline.store.Store.shard_paths`), atomically;
3. waits for every rank; if any failed, every rank raises the same error (and finished shards stay);
4. rank 0 joins the shards in rank order (= the original order) and writes the final files through
   :meth:`pipeline.store.Store.save_features`, meta last, recording ``world_size``; then it removes the shards
   and every rank returns.

A rank whose shard is already there, made with the same settings from the same data (same sample range,
world size, fingerprint, candidate settings, ``amp`` and ``strict``), reuses it without loading the model: a
re-run after a crash redoes only the parts that were not finished. ``--overwrite`` redoes every part.

Coordination (the end-of-part wait and the errors) goes through a gloo group of the same ranks, so it holds
only CPU objects and waits up to :data:`WAIT` for the slowest rank. Ranks other than 0 print nothing on stdout
(:func:`start`); rank 0 reports for all. Without ``torchrun`` (no ``WORLD_SIZE``, or 1) nothing here runs.
"""
from __future__ import annotations

import atexit
import json
import os
import sys
import time
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import torch
import torch.distributed as dist

from pipeline import defaults
from pipeline.extract.loop import BadSample, forward_samples, memory_format
from pipeline.extract.saving import requested_settings, save_candidate
from pipeline.store import Store, load_json, save_json, save_npy

# How long a rank waits for the others at the end of a part: one rank may extract for hours while another,
# whose shard was already there, waits.
WAIT = timedelta(hours=24)


@dataclass(frozen=True)
class Context:
    """This process's place in a torchrun launch; ``group``: the gloo group used for coordination."""
    rank: int
    world_size: int
    local_rank: int
    group: object = None

    def part(self, n: int) -> range:
        """This rank's contiguous part of n samples in the fixed order (parts differ in length by at most 1)."""
        return range(n * self.rank // self.world_size, n * (self.rank + 1) // self.world_size)

    def device(self, setting: str | None) -> torch.device:
        """The rank's device: ``cuda:LOCAL_RANK`` where the setting resolves to CUDA, else the setting's."""
        resolved = torch.device(defaults.resolve_device(setting))
        return torch.device("cuda", self.local_rank) if resolved.type == "cuda" else resolved


def launched() -> bool:
    """Whether this process is one of several that torchrun started."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def context(device: str | None = defaults.DEVICE) -> Context | None:
    """This process's :class:`Context` (the process group initialised on first use), or None without torchrun."""
    global _CONTEXT
    if not launched():
        return None
    if _CONTEXT is None:
        missing = [name for name in ("RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT") if name not in os.environ]
        if missing:
            raise RuntimeError(f"WORLD_SIZE is {os.environ['WORLD_SIZE']} but {', '.join(missing)} is not set: "
                               "launch several processes with torchrun (docs/scaling.md), or unset WORLD_SIZE")
        rank, world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
        local_rank = int(os.environ["LOCAL_RANK"])
        on_cuda = torch.device(defaults.resolve_device(device)).type == "cuda"
        if on_cuda:
            torch.cuda.set_device(local_rank)
        if not dist.is_initialized():
            dist.init_process_group("nccl" if on_cuda else "gloo", timeout=WAIT)
            atexit.register(_finish)
        group = dist.new_group(backend="gloo", timeout=WAIT) if on_cuda else dist.group.WORLD
        _CONTEXT = Context(rank, world_size, local_rank, group)
    return _CONTEXT


_CONTEXT: Context | None = None


def _finish() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def start(device: str | None = defaults.DEVICE) -> Context | None:
    """At the start of a stage script: join the process group under torchrun, and keep ranks other than 0
    quiet on stdout (their ``print`` does nothing; errors still reach stderr), so that each line is printed once."""
    found = context(device)
    if found is not None and found.rank != 0:
        sys.stdout = open(os.devnull, "w")  # rank 0 reports for all; stderr (errors, progress bars) stays
    return found


class RankFailed(RuntimeError):
    """A rank failed on a part; every rank raises it, so that all go on to the next candidate together."""


def agree(ctx: Context, error: BaseException | None) -> None:
    """Wait for every rank; raise :class:`RankFailed` on all of them if any passes an error."""
    errors: list = [None] * ctx.world_size
    dist.all_gather_object(errors, None if error is None else f"{type(error).__name__}: {error}", group=ctx.group)
    failed = [(rank, message) for rank, message in enumerate(errors) if message is not None]
    if failed:
        raise RankFailed("; ".join(f"rank {rank}: {message}" for rank, message in failed)) from error


# ----- one candidate on one dataset, in parts ----------------------------------------------------------------
def extract_sharded(ctx: Context, candidate, samples, store: Store, todo: list[str], result, *, batch_size: int,
                    num_workers: int, device, amp: bool, overwrite: bool, strict: bool, flabel_kind,
                    extra_meta: dict | None):
    """:func:`pipeline.extract.candidate.extract_candidate`'s work for the stored names `todo`, this rank's part of it;
    rank 0 writes the joined files. Returns `result` (an ExtractResult) filled alike on every rank."""
    started = time.perf_counter()
    device = ctx.device(device)
    part = ctx.part(len(samples))
    key = _shard_key(ctx, candidate, samples, todo, part, amp=amp, strict=strict)
    error = None
    try:
        if overwrite or not _finished(store, candidate.name, samples.name, ctx.rank, ctx.world_size, key):
            _write_shard(ctx, candidate, samples, store, todo, part, key, device, batch_size=batch_size,
                         num_workers=num_workers, amp=amp, strict=strict, started=started)
        else:
            print(f"[{samples.name}] {candidate.name}: part {ctx.rank + 1}/{ctx.world_size} (samples "
                  f"{part.start}-{part.stop - 1}) already there, reused", flush=True)
    except Exception as caught:  # shared with the other ranks, which would otherwise wait for this one
        error = caught
    agree(ctx, error)
    if ctx.rank == 0:
        try:
            features, source_probs, kept, bad, loaded_meta, seconds = _join(ctx, candidate, samples, store, todo)
            result.bad[:] = bad
            result.seconds = time.perf_counter() - started
            run = {"seconds": round(result.seconds, 3), "batch_size": batch_size, "device": str(device),
                   "amp": bool(amp), "memory_format": str(memory_format(device)), "world_size": ctx.world_size,
                   "part_seconds": seconds}
            save_candidate(candidate, samples, store, todo, features, source_probs, kept, result,
                                   loaded_meta=loaded_meta, flabel_kind=flabel_kind, extra_meta=extra_meta, run=run)
        except Exception as caught:
            error = caught
    agree(ctx, error)
    if ctx.rank == 0:
        store.remove_shards(samples.name, candidate.name)
    else:  # what rank 0 wrote, as rank 0's result says it
        result.written = list(todo)
        result.paths = {stored: store.feature_paths(samples.name, stored) for stored in todo}
        result.seconds = time.perf_counter() - started
    return result


def _shard_key(ctx: Context, candidate, samples, todo, part: range, *, amp: bool, strict: bool) -> dict:
    """What a shard must have been made with to be reused, as its meta records it (JSON types)."""
    key = {"rank": ctx.rank, "world_size": ctx.world_size, "start": part.start, "stop": part.stop,
           "fingerprint": samples.fingerprint, "stored": list(todo), "amp": bool(amp), "strict": bool(strict),
           "settings": {stored: requested_settings(candidate, stored, samples) for stored in todo}}
    return json.loads(json.dumps(key, default=str))


def _finished(store: Store, model: str, dataset: str, rank: int, world_size: int, key: dict) -> bool:
    meta_path = store.shard_paths(dataset, model, rank, world_size)["meta"]
    return meta_path.exists() and load_json(meta_path).get("key") == key


def _write_shard(ctx: Context, candidate, samples, store: Store, todo, part: range, key: dict, device, *,
                 batch_size, num_workers, amp, strict, started) -> None:
    paths = store.shard_paths(samples.name, candidate.name, ctx.rank, ctx.world_size)
    paths["meta"].unlink(missing_ok=True)  # the meta marks a finished shard: drop it before rewriting
    features, source_probs, kept, bad, loaded_meta = forward_samples(
        candidate, samples, part, batch_size=batch_size, num_workers=num_workers, device=device, amp=amp,
        strict=strict, desc=f"{candidate.name} on {samples.name}, part {ctx.rank + 1}/{ctx.world_size}")
    arrays = {}
    for stored in todo:
        if stored in features:
            arrays[f"{stored}_feature"] = features[stored]
        if stored in source_probs:
            arrays[f"{stored}_source_probs"] = source_probs[stored]
    for name, array in arrays.items():
        save_npy(paths["folder"] / f"{name}.npy", array)
    save_npy(paths["kept"], np.asarray(kept, dtype=np.int64))
    save_json(paths["meta"], {"key": key, "arrays": sorted(arrays), "bad": [vars(sample) for sample in bad],
                              "loaded_meta": loaded_meta, "seconds": round(time.perf_counter() - started, 3)})


def _join(ctx: Context, candidate, samples, store: Store, todo):
    """(features, source_probs, kept, bad samples, the model's loaded meta, seconds of each part): the shards of
    every rank joined in rank order, checked to cover the samples once."""
    parts, kept, bad, loaded_meta = [], [], [], {}
    for rank in range(ctx.world_size):
        paths = store.shard_paths(samples.name, candidate.name, rank, ctx.world_size)
        if not paths["meta"].exists():
            raise FileNotFoundError(f"the part of rank {rank} is not at {paths['meta']}; on several machines "
                                    f"--results must be a folder that every machine sees (a shared file system)")
        meta = load_json(paths["meta"])
        parts.append((paths, meta))
        kept.append(np.load(paths["kept"]))
        bad += [BadSample(**sample) for sample in meta["bad"]]
        loaded_meta = loaded_meta or meta["loaded_meta"]
    kept = np.concatenate(kept)
    covered = np.sort(np.concatenate([kept, np.asarray([sample.index for sample in bad], dtype=np.int64)]))
    if not np.array_equal(covered, np.arange(len(samples))):
        raise RuntimeError(f"the parts of {candidate.name} on {samples.name} do not cover its {len(samples)} "
                           "samples once; run again with --overwrite true")

    def joined(suffix: str) -> dict[str, np.ndarray]:
        out = {}
        for stored in todo:
            found = [np.load(paths["folder"] / f"{stored}_{suffix}.npy", mmap_mode="r")
                     for paths, meta in parts if f"{stored}_{suffix}" in meta["arrays"]]
            if found:
                out[stored] = np.concatenate(found)
        return out

    seconds = [meta["seconds"] for _, meta in parts]
    return joined("feature"), joined("source_probs"), kept.tolist(), bad, loaded_meta, seconds
