"""LEEP: Log Expected Empirical Prediction (Nguyen, Hassner, Seeger, Archambeau; ICML 2020).

Given the source head's softmax θ(x_i) over Z source classes and the target labels y_i (C classes):

    P(y, z) = (1/N) Σ_i θ(x_i)_z [y_i = y]          empirical joint of target label and source class
    P(z)    = Σ_y P(y, z)                           (= (1/N) Σ_i θ(x_i)_z)
    P(y|z)  = P(y, z) / P(z)
    LEEP    = (1/N) Σ_i log Σ_z P(y_i|z) θ(x_i)_z

LEEP ≤ 0; it is ~0 when the source head predicts the target label perfectly (one-hot, one source class
per target class) and ~log(1/C) when θ carries no information about y (balanced classes).

Differences from published code:
- The code shipped with EMMS and SFDA returns the mean of Σ_z P(y_i|z) θ(x_i)_z without the log; here the
  log is taken as in the paper (Eq. 2), as in the PARC authors' implementation.
- A source class that receives no probability mass at all (P(z) = 0) gets P(y|z) = 0 instead of 0/0;
  it cannot affect the score, since θ(x_i)_z = 0 for every sample.
"""
from __future__ import annotations

import numpy as np

from metrics._checks import as_labels, as_probabilities


def leep(source_probs, labels) -> float:
    """LEEP of source-head probabilities (N, Z) for integer target labels (N,). Higher is better."""
    probs = as_probabilities(source_probs, name="source_probs")
    targets, n_classes = as_labels(labels, probs.shape[0])
    return leep_from_validated(probs, targets, n_classes)


def leep_from_validated(probs: np.ndarray, targets: np.ndarray, n_classes: int) -> float:
    """LEEP on already-validated float64 probabilities and 0..C-1 labels (shared with N-LEEP)."""
    n_samples = probs.shape[0]
    joint = np.zeros((n_classes, probs.shape[1]))
    np.add.at(joint, targets, probs)
    joint /= n_samples
    marginal = joint.sum(axis=0)
    conditional = np.divide(joint, marginal, out=np.zeros_like(joint), where=marginal > 0)
    expected = np.einsum("iz,iz->i", probs, conditional[targets])
    return float(np.mean(np.log(expected)))
