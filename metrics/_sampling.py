"""Seeded stratified subsampling shared by PARC (scores the subsample) and N-LEEP (fits its mixture on it)."""
from __future__ import annotations

import numpy as np


def stratified_subsample(targets: np.ndarray, max_samples: int, seed: int) -> np.ndarray:
    """Indices of all samples, or of a seeded per-class fraction max_samples/N of them (at least 2 a class),
    in original order."""
    if len(targets) <= max_samples:
        return np.arange(len(targets))
    rng = np.random.default_rng(seed)
    fraction = max_samples / len(targets)
    chosen = [rng.choice(members, size=max(2, int(fraction * len(members))), replace=False)
              for members in (np.flatnonzero(targets == c) for c in range(targets.max() + 1))]
    return np.sort(np.concatenate(chosen))
