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


def within_class_cross(x: np.ndarray, targets: np.ndarray, means: np.ndarray,
                       block_rows: int | None = None) -> np.ndarray:
    """Σ_i (x_i - means[targets_i])ᵀ (x_i - means[targets_i]): the within-class scatter (times N), accumulated
    over row blocks, so no N x D array of centred rows exists (at sun397's 108,754 x 2048 that is 1.8 GB)."""
    buffer = block_buffer(x, block_rows)
    result = np.zeros((x.shape[1], x.shape[1]))
    for start, stop in row_blocks(x.shape[0], block_rows):
        block = buffer[:stop - start]
        np.subtract(x[start:stop], means[targets[start:stop]], out=block)
        result += block.T @ block
    return result


def column_means(x, block_rows: int | None = None) -> np.ndarray:
    """Column means of x (N, D) in float64, one pass of row blocks."""
    total = np.zeros(x.shape[1])
    for start, stop in row_blocks(x.shape[0], block_rows):
        total += np.sum(x[start:stop], axis=0, dtype=np.float64)
    return total / x.shape[0]


def class_sums(x, labels: np.ndarray, n_classes: int, block_rows: int | None = None) -> np.ndarray:
    """Per-class column sums of x (N, D) for labels in 0..n_classes-1: (n_classes, D) float64.

    A sparse one-hot product per block, so the cost is O(N D) whatever the number of classes.
    """
    from scipy import sparse

    sums = np.zeros((n_classes, x.shape[1]))
    buffer = block_buffer(x, block_rows)
    for start, stop in row_blocks(x.shape[0], block_rows):
        block = centred_block(x, start, stop, 0.0, out=buffer)
        rows = labels[start:stop]
        one_hot = sparse.csr_matrix((np.ones(len(rows)), (rows, np.arange(len(rows)))),
                                    shape=(n_classes, len(rows)))
        sums += one_hot @ block
    return sums


def class_means(x: np.ndarray, targets: np.ndarray, n_classes: int) -> np.ndarray:
    """Per-class means (C, D) of x for labels 0..C-1."""
    return class_sums(x, targets, n_classes) / np.bincount(targets, minlength=n_classes)[:, None]


def class_means_and_variances(x: np.ndarray, targets: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-class means and population variances (C, D) of x for labels 0..C-1."""
    means = class_means(x, targets, n_classes)
    counts = np.bincount(targets, minlength=n_classes)[:, None]
    return means, class_sums((x - means[targets]) ** 2, targets, n_classes) / counts


def centred_block(x, start: int, stop: int, mean, out: np.ndarray) -> np.ndarray:
    """Rows start..stop of x minus mean as float64, written into the first rows of ``out`` (a buffer from
    :func:`block_buffer`, reused block after block: a fresh array per block costs its page faults again, a third
    of the products at N=20000); x is never written."""
    block = out[:stop - start]
    np.subtract(x[start:stop], mean, out=block)
    return block


def block_buffer(x, block_rows: int | None = None) -> np.ndarray:
    """An empty float64 array for one block of rows of x, for :func:`centred_block`'s ``out``."""
    step = BLOCK_ROWS if block_rows is None else block_rows
    return np.empty((min(step, x.shape[0]), x.shape[1]))


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
    buffer = block_buffer(x, block_rows)
    result = None
    for start, stop in row_blocks(x.shape[0], block_rows):
        xb = centred_block(x, start, stop, x_mean, out=buffer)
        part = matmul_t(xb, xb)
        result = part if result is None else result + part
    return result


def gram_and_cross(x, y_blocks, *, x_mean, block_rows: int | None = None, device=None,
                   dtype: str = "float64") -> tuple[np.ndarray, list[np.ndarray]]:
    """(x - x_mean)ᵀ(x - x_mean) and every (x - x_mean)ᵀ Y_k in one pass over the rows of x.

    ``y_blocks(start, stop)`` returns rows start..stop of each Y_k as float64 arrays (built on the fly, e.g.
    centred and scaled targets), so no Y_k exists whole; the products are per Y_k, so neither does their
    concatenation.
    """
    matmul_t = _matmul_t(device, dtype)
    buffer = block_buffer(x, block_rows)
    gram = crosses = None
    for start, stop in row_blocks(x.shape[0], block_rows):
        xb = centred_block(x, start, stop, x_mean, out=buffer)
        gram_part = matmul_t(xb, xb)
        cross_parts = [matmul_t(xb, yb) for yb in y_blocks(start, stop)]
        gram = gram_part if gram is None else gram + gram_part
        crosses = cross_parts if crosses is None else [total + part for total, part in zip(crosses, cross_parts)]
    return gram, crosses
