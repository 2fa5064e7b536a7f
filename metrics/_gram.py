"""Gram products of centred (and scaled) columns, accumulated over blocks of rows.

Features may be a float32 memory-mapped ``.npy``: only ``block_rows`` rows are ever converted to float64
at once, so N is bounded by disk, not RAM. ``device="cuda"`` (or any torch device) runs the products in
torch, float64 by default; ``device=None`` or ``"cpu"`` uses numpy. ``dtype="float32"`` runs each block's
product in float32 (numpy or torch) and sums the blocks in float64. Results are always numpy float64.
"""
from __future__ import annotations

import numpy as np

from metrics._spectral import uses_torch

BLOCK_ROWS = 8192
PRECISIONS = ("float64", "float32")   # of the block products; sums over blocks are float64 either way


def row_blocks(n_rows: int, block_rows: int | None = None):
    """(start, stop) of consecutive row blocks; ``block_rows=None`` means the module's BLOCK_ROWS."""
    step = BLOCK_ROWS if block_rows is None else block_rows
    for start in range(0, n_rows, step):
        yield start, min(start + step, n_rows)


def column_means(x, block_rows: int | None = None) -> np.ndarray:
    """Column means of x (N, D) in float64, one pass of row blocks."""
    total = np.zeros(x.shape[1])
    for start, stop in row_blocks(x.shape[0], block_rows):
        total += np.asarray(x[start:stop], dtype=np.float64).sum(axis=0)
    return total / x.shape[0]


def class_sums(x, labels: np.ndarray, n_classes: int, block_rows: int | None = None) -> np.ndarray:
    """Per-class column sums of x (N, D) for labels in 0..n_classes-1: (n_classes, D) float64.

    A sparse one-hot product per block, so the cost is O(N D) whatever the number of classes.
    """
    from scipy import sparse

    sums = np.zeros((n_classes, x.shape[1]))
    for start, stop in row_blocks(x.shape[0], block_rows):
        block = np.asarray(x[start:stop], dtype=np.float64)
        rows = labels[start:stop]
        one_hot = sparse.csr_matrix((np.ones(len(rows)), (rows, np.arange(len(rows)))),
                                    shape=(n_classes, len(rows)))
        sums += one_hot @ block
    return sums


def class_means_and_variances(x: np.ndarray, targets: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-class means and population variances (C, D) of x for labels 0..C-1."""
    counts = np.bincount(targets, minlength=n_classes)[:, None]
    means = class_sums(x, targets, n_classes) / counts
    return means, class_sums((x - means[targets]) ** 2, targets, n_classes) / counts


def column_moments(x, block_rows: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Column means and population standard deviations of x (N, D), in float64, in two passes of blocks."""
    n = x.shape[0]
    mean = column_means(x, block_rows)
    sq = np.zeros(x.shape[1])
    for start, stop in row_blocks(n, block_rows):
        block = np.asarray(x[start:stop], dtype=np.float64) - mean
        sq += np.einsum("ij,ij->j", block, block)
    return mean, np.sqrt(sq / n)


def centred_block(x, start: int, stop: int, mean) -> np.ndarray:
    """Rows start..stop of x as a new float64 array minus mean (one allocation; x is never written)."""
    block = np.array(x[start:stop], dtype=np.float64)
    block -= mean
    return block


def _torch_matmul(device, dtype):
    import torch  # only for the GPU path: metrics need no torch otherwise

    torch_dtype = getattr(torch, dtype)

    def matmul_t(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        ta = torch.as_tensor(a, device=device, dtype=torch_dtype)
        tb = ta if b is a else torch.as_tensor(b, device=device, dtype=torch_dtype)
        return (ta.T @ tb).double().cpu().numpy()

    return matmul_t


def _numpy_matmul_float32(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """aᵀ b of one block in float32 (sgemm; ssyrk when b is a), returned as float64 for the accumulation."""
    a32 = a.astype(np.float32, copy=False)
    b32 = a32 if b is a else b.astype(np.float32, copy=False)
    return (a32.T @ b32).astype(np.float64)


def check_precision(precision) -> str:
    """The metrics' ``precision`` option: "float64" or "float32", else a ValueError saying so."""
    if not isinstance(precision, str) or precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    return precision


def _matmul_t(device, dtype: str = "float64"):
    check_precision(dtype)
    if not uses_torch(device):
        return (lambda a, b: a.T @ b) if dtype == "float64" else _numpy_matmul_float32
    return _torch_matmul(device, dtype)


def centred_cross(x, *, x_mean=None, block_rows: int | None = None, device=None,
                  dtype: str = "float64") -> np.ndarray:
    """The Gram (x - x_mean)ᵀ (x - x_mean) accumulated over row blocks.

    The mean defaults to zero (no centring). Scaling columns by s is ``G / np.outer(s, s)`` afterwards.
    """
    matmul_t = _matmul_t(device, dtype)
    x_mean = 0.0 if x_mean is None else x_mean
    result = None
    for start, stop in row_blocks(x.shape[0], block_rows):
        xb = centred_block(x, start, stop, x_mean)
        part = matmul_t(xb, xb)
        result = part if result is None else result + part
    return result


def gram_and_cross(x, y_block, *, x_mean, block_rows: int | None = None, device=None,
                   dtype: str = "float64") -> tuple[np.ndarray, np.ndarray]:
    """(x - x_mean)ᵀ(x - x_mean) and (x - x_mean)ᵀ Y in one pass over the rows of x.

    ``y_block(start, stop)`` returns rows start..stop of Y as float64 (built on the fly, e.g. centred
    and scaled targets), so Y never exists whole.
    """
    matmul_t = _matmul_t(device, dtype)
    gram = cross = None
    for start, stop in row_blocks(x.shape[0], block_rows):
        xb = centred_block(x, start, stop, x_mean)
        yb = y_block(start, stop)
        gram_part, cross_part = matmul_t(xb, xb), matmul_t(xb, yb)
        gram = gram_part if gram is None else gram + gram_part
        cross = cross_part if cross is None else cross + cross_part
    return gram, cross
