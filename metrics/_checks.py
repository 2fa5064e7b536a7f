"""Input checks shared by every metric: each failure is a ValueError naming the argument and the problem.

Every checker returns a new float64 (or int64) array, so a metric can never modify its caller's data.
"""
from __future__ import annotations

import numpy as np


def as_features(features, name: str = "features") -> np.ndarray:
    """2-D, finite, non-empty; returned as a float64 copy (float16/float32/memmap input accepted)."""
    try:
        array = np.array(features, dtype=np.float64, copy=True)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be a numeric array, got {type(features).__name__}: {error}") from None
    if array.ndim != 2:
        raise ValueError(f"{name} must be 2-D (N samples, D dimensions), got shape {array.shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {array.shape})")
    if not np.isfinite(array).all():
        bad = int((~np.isfinite(array)).any(axis=1).sum())
        raise ValueError(f"{name} holds NaN or inf in {bad} of {array.shape[0]} rows; "
                         f"check the extraction (e.g. fp16 overflow) and re-extract")
    return array


def as_labels(labels, n_samples: int | None = None, name: str = "labels",
              min_classes: int = 2) -> tuple[np.ndarray, int]:
    """Integer class labels of any values, remapped to 0..C-1 in sorted order. Returns (labels, C)."""
    array = np.asarray(labels)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one class per sample), got shape {array.shape}")
    if array.dtype.kind == "f":
        if not np.isfinite(array).all() or not np.all(array == np.round(array)):
            raise ValueError(f"{name} must be integer class indices; got non-integer floats "
                             f"(for real-valued targets use a regression metric)")
    elif array.dtype.kind not in "iub":
        raise ValueError(f"{name} must be integer class indices, got dtype {array.dtype}")
    if n_samples is not None and len(array) != n_samples:
        raise ValueError(f"{name} has {len(array)} entries but features have {n_samples} rows; "
                         f"they must describe the same samples in the same order")
    classes, remapped = np.unique(array, return_inverse=True)
    if len(classes) < min_classes:
        raise ValueError(f"{name} hold {len(classes)} class(es); at least {min_classes} are needed")
    return remapped.astype(np.int64), len(classes)


def as_targets(targets, n_samples: int, name: str = "targets") -> np.ndarray:
    """Real-valued regression targets, (N,) or (N, K), returned as float64 (N, K)."""
    array = as_features(np.asarray(targets).reshape(len(targets), -1) if np.ndim(targets) == 1 else targets, name)
    if array.shape[0] != n_samples:
        raise ValueError(f"{name} has {array.shape[0]} rows but features have {n_samples}; "
                         f"they must describe the same samples in the same order")
    return array


def as_positive_int(value, name: str, *, optional: bool = False) -> int | None:
    """A positive integer option as an int (a bool is not one); None passes where ``optional``."""
    if optional and value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer{' or None' if optional else ''}, got {value!r}")
    return int(value)


def check_samples_per_class(labels: np.ndarray, minimum: int, metric: str) -> None:
    """Raise if some class has fewer than `minimum` samples (covariances, leave-one-out, ...)."""
    counts = np.bincount(labels)
    if counts.min() < minimum:
        worst = int(np.argmin(counts))
        raise ValueError(f"{metric} needs at least {minimum} samples per class; class index {worst} has "
                         f"{counts[worst]}. Use more samples per class or drop that class")


def as_probabilities(probs, n_samples: int | None = None, name: str = "source_probs") -> np.ndarray:
    """(N, Z) rows of non-negative numbers summing to 1 (tolerance 1e-3), as float64."""
    array = as_features(probs, name)
    if n_samples is not None and array.shape[0] != n_samples:
        raise ValueError(f"{name} has {array.shape[0]} rows but labels have {n_samples}")
    if (array < 0).any():
        raise ValueError(f"{name} holds negative values; pass softmax probabilities, not logits")
    row_sums = array.sum(axis=1)
    if not np.allclose(row_sums, 1.0, atol=1e-3):
        raise ValueError(f"{name} rows must sum to 1 (softmax probabilities); row sums range "
                         f"{row_sums.min():.4g}..{row_sums.max():.4g}")
    return array / row_sums[:, None]


def as_features_blockwise(features, name: str = "features", block_rows: int | None = None):
    """Like :func:`as_features` but without a float64 copy: 2-D, numeric, non-empty, finite, checked in
    blocks of rows. Returns the caller's array itself (a float32 ``np.memmap`` stays on disk): read it, never
    write to it.
    """
    array = features if isinstance(features, np.ndarray) else np.asarray(features)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be a numeric array, got dtype {array.dtype}")
    if array.ndim != 2:
        raise ValueError(f"{name} must be 2-D (N samples, D dimensions), got shape {array.shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {array.shape})")
    if array.dtype.kind == "f":
        from metrics._gram import row_blocks

        bad = sum(int((~np.isfinite(array[start:stop])).any(axis=1).sum())
                  for start, stop in row_blocks(array.shape[0], block_rows))
        if bad:
            raise ValueError(f"{name} holds NaN or inf in {bad} of {array.shape[0]} rows; "
                             f"check the extraction (e.g. fp16 overflow) and re-extract")
    return array
