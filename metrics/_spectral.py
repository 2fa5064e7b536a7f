"""Dense decompositions shared by LogME, H-score and TransRate, in numpy or (for a device) torch float64.

``device=None``, ``"cpu"`` or ``"numpy"`` runs numpy, as in :mod:`metrics._gram`; any other value (``"cuda"``,
``torch.device("cpu")``, ...) runs the decomposition in torch float64 on that device. Results are numpy
float64 either way, so the code around a decomposition is the same for both.
"""
from __future__ import annotations

import numpy as np


def uses_torch(device) -> bool:
    """True when ``device`` asks for torch; the rule every metric with a ``device`` argument follows."""
    return not (device is None or (isinstance(device, str) and device in ("cpu", "numpy")))


def _to_torch(matrix: np.ndarray, device):
    import torch  # only on the device path: metrics need no torch otherwise

    return torch.as_tensor(np.ascontiguousarray(matrix), dtype=torch.float64, device=device)


def eigh(matrix: np.ndarray, device=None) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (ascending) and eigenvectors of a symmetric matrix."""
    if not uses_torch(device):
        return np.linalg.eigh(matrix)
    import torch

    values, vectors = torch.linalg.eigh(_to_torch(matrix, device))
    return values.cpu().numpy(), vectors.cpu().numpy()


def logdet_identity_plus(gram: np.ndarray, scale: float, device=None) -> float:
    """log det(I + scale * gram) for a symmetric positive semi-definite gram, by Cholesky (all eigenvalues >= 1)."""
    if not uses_torch(device):
        matrix = scale * gram
        matrix[np.diag_indices_from(matrix)] += 1.0
        return 2.0 * float(np.log(np.diagonal(np.linalg.cholesky(matrix))).sum())
    import torch

    matrix = scale * _to_torch(gram, device)
    matrix.diagonal().add_(1.0)
    return 2.0 * float(torch.log(torch.linalg.cholesky(matrix).diagonal()).sum())


def rank_mask(values: np.ndarray, size: int) -> np.ndarray:
    """Which of the eigenvalues of a Gram, or singular values of a matrix, of data (N, D) are non-zero.

    Those above ``size * float64 eps`` times the largest, size = max(N, D): the tolerance of
    ``numpy.linalg.matrix_rank``, applied to whichever was decomposed (a Gram's rounding is of order eps times
    its largest eigenvalue, a matrix's of order eps times its largest singular value).
    """
    top = values.max(initial=0.0)
    return values > top * size * np.finfo(np.float64).eps if top > 0 else np.zeros(values.shape, dtype=bool)

