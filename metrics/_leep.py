"""LEEP's formula on validated inputs, shared by LEEP (source-head probabilities) and N-LEEP (mixture
posteriors); see :mod:`metrics.leep` for the formula and the paper."""
from __future__ import annotations

import numpy as np
from scipy import sparse

from metrics._gram import row_blocks


def leep_from_validated(probs: np.ndarray, targets: np.ndarray, n_classes: int) -> float:
    """LEEP on already-validated float64 probabilities and 0..C-1 labels (shared with N-LEEP)."""
    n_samples = probs.shape[0]
    one_hot = sparse.csr_matrix((np.ones(n_samples), (targets, np.arange(n_samples))), shape=(n_classes, n_samples))
    joint = np.asarray(one_hot @ probs) / n_samples   # Σ_i [y_i = y] θ(x_i)_z: a sparse product, not np.add.at
    marginal = joint.sum(axis=0)
    conditional = np.divide(joint, marginal, out=np.zeros_like(joint), where=marginal > 0)
    expected = np.empty(n_samples)
    for start, stop in row_blocks(n_samples):   # no N x Z array of conditionals beside the probabilities
        expected[start:stop] = np.einsum("iz,iz->i", probs[start:stop], conditional[targets[start:stop]])
    return float(np.mean(np.log(expected)))
