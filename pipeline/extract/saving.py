"""Writing a candidate's feature sets through the store, meta last (what one process or rank 0 of a torchrun
launch does once the features are computed), and what they must share with a request to be reused."""
from __future__ import annotations

import platform
from dataclasses import dataclass, field

import numpy as np
import torch

from pipeline.extract.loop import BadSample
from pipeline.kinds import FlabelKind
from pipeline.store import Store


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
